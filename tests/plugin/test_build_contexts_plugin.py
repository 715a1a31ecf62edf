"""Named build contexts through the ``dockerfile`` marker and ``image_factory.build``.

Docker's legacy builder, the reference builder here, has no named contexts and BuildKit is
not available on this machine: these tests check the plugin against the executor's own
meaning of ``--build-context`` (tests/builder/test_build_contexts.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.plugin.sources import BuildSpec, source_from_marker, source_from_param
from tests.plugin.buildproject import BASE, build_project, summary
from tests.support.registry import RegistryFactory

TWO_VARIANTS = """
import pytest

VARIANTS = {"plain": "docker-image://HOST/base:1", "variant": "docker-image://HOST/base:2"}


@pytest.mark.dockerfile(build_contexts={"debian:12": VARIANTS["plain"], "extra": "extra"})
def test_two_bases_differ_by_exactly_the_variant(image, image_factory):
    other = image_factory.build(
        "Dockerfile", build_contexts={"debian:12": VARIANTS["variant"], "extra": "extra"}
    )
    changes = image.diff(other, ignore=["/listing"], semantic=True)
    assert [entry.path for entry in changes.added] == ["/variant.txt"]
    assert (changes.removed, changes.changed, changes.config) == ((), (), ())
    assert "variant.txt" in other.file("/listing").read_text()
    assert image.file("/extra/kept.txt").read_text() == "kept\\n"
    assert not image.file("/extra/ignored.txt").exists
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A subprocess, as in test_build_registry.py (httpx and pytester's module cleanup)."""
    return pytester.runpytest_subprocess("-p", "no:benchmark", *args)


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path) -> Iterator[str]:
    """A loopback registry holding base:1 (busybox) and base:2 (the same plus a file)."""
    work = tmp_path_factory.mktemp("ctx-variants")
    factory = RegistryFactory(work / "registries")
    try:
        reg = factory()
        for tag, extra in (("1", ""), ("2", "RUN echo two > /variant.txt\n")):
            ctx = work / tag
            ctx.mkdir()
            (ctx / "rootfs.tar").write_bytes(busybox_rootfs_tar.read_bytes())
            (ctx / "Dockerfile").write_text(BASE + extra)
            options = BuildOptions(
                context=str(ctx),
                dockerfile=str(ctx / "Dockerfile"),
                destinations=(f"{reg.host}/base:{tag}",),
            )
            build(options, verbose=False)
        yield reg.host
    finally:
        factory.stop_all()


def test_marker_and_factory_build_one_dockerfile_on_two_bases(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, variants: str
) -> None:
    build_project(
        pytester,
        busybox_rootfs_tar,
        {
            "Dockerfile": "FROM debian:12\nRUN ls / > /listing\nCOPY --from=extra . /extra/\n",
            # the main context leaves extra/ out: only the named context reads it
            ".dockerignore": "out\nrunpytest-*\n**/__pycache__\n*.py\nextra\n",
            "extra/kept.txt": "kept\n",
            "extra/ignored.txt": "ignored\n",
            "extra/.dockerignore": "ignored.txt\n",
        },
    )
    pytester.makepyfile(test_variants=TWO_VARIANTS.replace("HOST", variants))
    first = _run(pytester)
    first.assert_outcomes(passed=1)
    assert summary(first).startswith("images: 2 built")
    again = _run(pytester)
    again.assert_outcomes(passed=1)
    assert ", 2 reused" in summary(again)
    # a file the directory's .dockerignore hides is not part of the key; a kept one is
    (pytester.path / "extra" / "ignored.txt").write_text("changed\n")
    assert ", 2 reused" in summary(_run(pytester))
    (pytester.path / "extra" / "kept.txt").write_text("kept\n\n")
    changed = _run(pytester)
    changed.assert_outcomes(failed=1)  # the test reads the old text: the images were rebuilt
    assert summary(changed).startswith("images: 2 built")


def test_marker_values_are_checked_and_anchored(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    spec = source_from_marker(
        (), {"build_contexts": {"x": "dir", "y": "docker-image://a/b:1"}}, tmp_path, "t.py::t"
    )
    assert spec.build_contexts == {"x": str(tmp_path / "dir"), "y": "docker-image://a/b:1"}
    param = source_from_param(
        {"path": "Dockerfile", "build_contexts": {"x": "dir"}}, tmp_path, "t.py::t[0]"
    )
    assert isinstance(param, BuildSpec)
    assert param.build_contexts == {"x": str(tmp_path / "dir")}
    assert "x=" in param.describe()
    with pytest.raises(UsageError, match="build_contexts must be a dict of str to str"):
        source_from_marker((), {"build_contexts": ["x=dir"]}, tmp_path, "t.py::t")
    with pytest.raises(UsageError, match="image= opens an existing image"):
        source_from_marker((), {"image": "a.tar", "build_contexts": {}}, tmp_path, "t.py::t")


def test_a_malformed_context_is_a_test_error_without_traceback(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": BASE})
    pytester.makepyfile(
        test_bad="""
import pytest

@pytest.mark.dockerfile(build_contexts={"base": "https://example.com/x.tar"})
def test_bad(image):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:benchmark")  # in-process: no registry is asked
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*invalid --build-context*https contexts are not supported*"])
    assert "Traceback" not in result.stdout.str()
