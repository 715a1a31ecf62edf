"""Stages that start from the same image share one unpacked copy of it (overlay mounts in
the build's own mount namespace); each still sees only its own changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.sandbox import probe
from pytest_imagebuild.image import Image
from tests.builder.build_support import file_table, make_base, write_tree

STAGES = """\
FROM {base} AS one
RUN echo one > /one && rm /etc/group && echo more >> /etc/passwd
FROM {base} AS two
RUN test ! -e /one && test -e /etc/group && ! grep -q more /etc/passwd && echo two > /two
FROM one AS three
RUN test -e /one && test ! -e /etc/group && echo three > /three
FROM {base}
COPY --from=one /one /got/one
COPY --from=two /two /got/two
COPY --from=three /three /got/three
RUN ls /got > /listing && test -e /etc/group
"""


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("stages-base"))
    return f"oci:{layout}"


def test_stages_share_one_unpacked_base(
    base: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    if probe().kind != "namespaces":
        pytest.fail(
            f"overlay roots need the namespaces sandbox; this machine: {probe().describe()}"
        )
    context = write_tree(tmp_path / "ctx", {"Dockerfile": STAGES.format(base=base)})
    shared = tmp_path / "shared.tar"
    where = tmp_path / "builds"
    options = BuildOptions(context=str(context), no_push=True, tar_path=shared, build_root=where)
    build(options, verbose=True)
    log = capfd.readouterr().err
    assert log.count("shared base: unpacking") == 1
    assert log.count("stage root: overlay on the shared base") == 4
    assert "stage root: unpacking 1 layer\n" in log  # three: one's own layer on the base
    # the same build with every stage unpacking its own base (a kept build directory)
    alone = tmp_path / "alone.tar"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=alone,
            keep_build_dir=True,
            build_root=tmp_path / "kept",
        ),
        verbose=True,
    )
    log = capfd.readouterr().err
    assert "shared base" not in log
    with Image.open(shared) as one, Image.open(alone) as other:
        assert one.file("/listing").read_text() == "one\nthree\ntwo\n"
        assert file_table(one) == file_table(other)
    # nothing stays mounted, in this thread's namespace either; the directory went whole
    assert str(where) not in Path("/proc/thread-self/mountinfo").read_text()
    assert list(where.iterdir()) == []
