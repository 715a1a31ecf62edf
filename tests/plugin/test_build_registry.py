"""Base images from a registry: their digests are part of the key; offline uses the last
resolved digest and never contacts the registry; mirrors are asked first."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from tests.plugin.buildproject import BASE, build_project, summary
from tests.support.registry import RegistryFactory

USES_BASE = """
import pytest

@pytest.mark.dockerfile()
def test_flavour(image):
    print("FLAVOUR", image.file("/flavour").read_text().strip())
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Runs in a subprocess: an in-process run restores ``sys.modules`` afterwards, which
    drops the HTTP modules its requests imported, and httpx in this process then no longer
    recognises httpcore's exceptions."""
    return pytester.runpytest_subprocess("-p", "no:benchmark", *args)


def _push_base(rootfs_tar: Path, work: Path, destination: str, flavour: str) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "rootfs.tar").write_bytes(rootfs_tar.read_bytes())
    (work / "Dockerfile").write_text(BASE + f"RUN echo {flavour} > /flavour\n")
    # an absolute --dockerfile: a relative one is tried in the current directory first
    options = BuildOptions(
        context=str(work), dockerfile=str(work / "Dockerfile"), destinations=(destination,)
    )
    build(options, verbose=False)


def test_moved_base_tag_rebuilds_and_offline_reuses(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, registry: RegistryFactory, tmp_path: Path
) -> None:
    reg = registry()
    base = f"{reg.host}/base:1"
    _push_base(busybox_rootfs_tar, tmp_path / "one", base, "one")
    build_project(
        pytester, busybox_rootfs_tar, {"Dockerfile": f"FROM {base}\nRUN echo app > /app\n"}
    )
    pytester.makepyfile(test_base=USES_BASE)
    first = _run(pytester, "-s")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*FLAVOUR one*"])
    assert ", 1 reused" in summary(_run(pytester))
    _push_base(busybox_rootfs_tar, tmp_path / "two", base, "two")
    moved = _run(pytester, "-s")
    moved.stdout.fnmatch_lines(["*FLAVOUR two*"])
    assert summary(moved).startswith("images: 1 built")
    reg.stop()
    offline = _run(pytester, "-s", "--imagebuild-offline")
    offline.assert_outcomes(passed=1)
    offline.stdout.fnmatch_lines(["*FLAVOUR two*"])
    assert ", 1 reused" in summary(offline)
    # a change to the context needs a pull: offline says so instead of trying
    (pytester.path / "new.txt").write_text("x\n")
    refused = _run(pytester, "--imagebuild-offline")
    refused.assert_outcomes(errors=1)
    refused.stdout.fnmatch_lines(
        [f"E   *RegistryError: {pytester.path}/Dockerfile:1: offline: * needs {base} from a *"]
    )


def test_unreachable_registry_names_the_base(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": "FROM 127.0.0.1:9/base:1\n"})
    pytester.makepyfile(test_base=USES_BASE)
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"E   *RegistryError: {pytester.path}/Dockerfile:1: cannot resolve base image"
            " 127.0.0.1:9/base:1: *"
        ]
    )


@pytest.mark.parametrize("how", ["option", "ini"])
def test_registry_mirror_serves_hub_images(
    pytester: pytest.Pytester,
    busybox_rootfs_tar: Path,
    registry: RegistryFactory,
    tmp_path: Path,
    how: str,
) -> None:
    mirror = registry()
    _push_base(busybox_rootfs_tar, tmp_path / "m", f"{mirror.host}/library/notonhub:1", "mirror")
    ini = (
        f"imagebuild_registry_mirrors = {mirror.host}\n"
        f"imagebuild_insecure_registries = {mirror.host}\n"
        if how == "ini"
        else ""
    )
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": "FROM notonhub:1\n"}, ini=ini)
    pytester.makepyfile(test_base=USES_BASE)
    args = (
        ["--imagebuild-registry-mirror", mirror.host, "--imagebuild-insecure-registry", mirror.host]
        if how == "option"
        else []
    )
    result = _run(pytester, "-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*FLAVOUR mirror*"])
