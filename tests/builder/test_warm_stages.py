"""Stages that start from the same image share one unpacked copy of it (overlay mounts in
the build's own mount namespace); each still sees only its own changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.sandbox import probe
from pytest_imagebuild.image import Image
from tests.builder.build_support import file_table, make_base, write_tree
from tests.builder.rootless import FULL_USER, chown_tree, ensure_user, remove_as, run_as, user_dir

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


ROOTLESS_BASE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /data && /bin/busybox echo hi > /data/x \
&& /bin/busybox chown 1000:1000 /data/x"]
"""
ROOTLESS_STAGES = """\
FROM {base} AS a
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo a > /data/x && /bin/busybox echo a > /a"]
FROM {base}
COPY --from=a /a /a
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox grep -q hi /data/x && /bin/busybox echo b > /b"]
"""


@pytest.mark.rootless
def test_an_unprivileged_build_shares_the_base_in_its_user_namespace() -> None:
    user = ensure_user(FULL_USER, subids=True)
    work = user_dir(user)
    try:
        base_ctx = work / "base-ctx"
        base_ctx.mkdir()
        shutil.copy2("/usr/bin/busybox", base_ctx / "busybox")
        (base_ctx / "Dockerfile").write_text(ROOTLESS_BASE)
        context = write_tree(
            work / "ctx", {"Dockerfile": ROOTLESS_STAGES.format(base=f"oci:{work / 'layout'}")}
        )
        chown_tree(work, user)
        code = f"""
            import json, os
            from pathlib import Path
            from pytest_imagebuild.builder.build import build
            from pytest_imagebuild.builder.options import BuildOptions
            root = Path({str(work / "build")!r})
            build(BuildOptions(context={str(base_ctx)!r}, no_push=True, build_root=root,
                               oci_layout_path=Path({str(work / "layout")!r})), verbose=False)
            log = os.open({str(work / "log")!r}, os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(log, 2)
            build(BuildOptions(context={str(context)!r}, no_push=True, build_root=root,
                               tar_path=Path({str(work / "out.tar")!r})), verbose=True)
            print(json.dumps(Path({str(work / "log")!r}).read_text()))
        """
        log = run_as(user, code, work, timeout=300)
        assert log.count("shared base: unpacking") == 1, log
        assert log.count("stage root: overlay on the shared base") == 2, log
        with Image.open(work / "out.tar") as image:
            assert image.file("/a").read_text() == "a\n"
            assert image.file("/b").read_text() == "b\n"
            data = image.file("/data/x")
            assert (data.uid, data.gid, data.read_text()) == (1000, 1000, "hi\n")
        assert not any((work / "build").iterdir())
    finally:
        remove_as(user, work)


@pytest.mark.rootless
def test_an_unprivileged_build_keeps_and_prunes_its_base() -> None:
    user = ensure_user(FULL_USER, subids=True)
    work = user_dir(user)
    try:
        base_ctx = work / "base-ctx"
        base_ctx.mkdir()
        shutil.copy2("/usr/bin/busybox", base_ctx / "busybox")
        (base_ctx / "Dockerfile").write_text(ROOTLESS_BASE)
        step = '["/bin/busybox", "sh", "-c", "/bin/busybox echo {} > /x"]'
        dockerfile = f"FROM oci:{work / 'layout'}\nRUN {step}\n"
        context = write_tree(work / "ctx", {"Dockerfile": dockerfile.format("one")})
        chown_tree(work, user)
        code = f"""
            import json, os, subprocess, sys
            from pathlib import Path
            from pytest_imagebuild.builder.build import build
            from pytest_imagebuild.builder.options import BuildOptions
            root, cache = Path({str(work / "build")!r}), Path({str(work / "cache")!r})
            build(BuildOptions(context={str(base_ctx)!r}, no_push=True, build_root=root,
                               oci_layout_path=Path({str(work / "layout")!r})), verbose=False)
            log = os.open({str(work / "log")!r}, os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(log, 2)
            df = Path({str(context / "Dockerfile")!r})
            for word in ("one", "two"):
                df.write_text(df.read_text().replace("one", word))
                build(BuildOptions(context={str(context)!r}, no_push=True, build_root=root,
                                   cache=True, cache_dir=cache,
                                   tar_path=Path({str(work / "out.tar")!r})), verbose=True)
            pruned = subprocess.run([sys.executable, "-m", "pytest_imagebuild", "prune",
                                     "--cache-dir", str(cache)], capture_output=True, text=True)
            print(json.dumps([Path({str(work / "log")!r}).read_text(), pruned.stdout,
                              sorted(p.name for p in (cache / "roots").iterdir())]))
        """
        log, pruned, left = run_as(user, code, work, timeout=300)
        assert log.count("root store: unpacking 2 layers") == 1, log
        assert log.count("reused") == 1, log
        assert "removed 1 unpacked bases" in pruned
        assert all(name.endswith(".lock") for name in left)
        with Image.open(work / "out.tar") as image:
            assert image.file("/x").read_text() == "two\n"
            assert (image.file("/data/x").uid, image.file("/data/x").gid) == (1000, 1000)
    finally:
        remove_as(user, work)
