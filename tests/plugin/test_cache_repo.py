"""``--imagebuild-cache-repo``: fixture builds on many machines share one registry cache.
Each session here has a cache directory of its own, as a fresh CI runner has."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project
from tests.support.registry import RegistryFactory

STEPS = BASE + "RUN echo one > /one\nRUN echo two > /two\n"

TEST = """
import pytest

@pytest.mark.dockerfile()
def test_built(image):
    assert image.file("/two").read_text() == "two\\n"
"""


def test_a_fresh_runner_takes_layers_from_the_shared_cache(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, registry: RegistryFactory
) -> None:
    reg = registry()
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": STEPS})
    pytester.makepyfile(test_it=TEST)
    shared = ("--imagebuild-cache-repo", f"{reg.host}/ci/cache")

    def run(machine: str, *args: str) -> str:
        cache = pytester.path.parent / f"{pytester.path.name}-{machine}"
        result = pytester.runpytest_subprocess("--imagebuild-cache-dir", str(cache), *args)
        result.assert_outcomes(passed=1)
        return "\n".join(result.outlines)

    first = run("first", *shared)
    assert "steps: 0 cached, 3 run" in first, first
    second = run("second", *shared)
    assert "steps: 3 cached, 0 run" in second, second
    alone = run("third")  # no shared cache: a fresh runner builds everything
    assert "steps: 0 cached, 3 run" in alone, alone


def test_cache_repo_from_the_ini_file(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, registry: RegistryFactory
) -> None:
    reg = registry()
    build_project(
        pytester,
        busybox_rootfs_tar,
        {"Dockerfile": STEPS},
        ini=f"imagebuild_cache_repo = {reg.host}/ci/cache\n",
    )
    pytester.makepyfile(test_it=TEST)
    for machine in ("a", "b"):
        cache = pytester.path.parent / f"{pytester.path.name}-{machine}"
        result = pytester.runpytest_subprocess("--imagebuild-cache-dir", str(cache))
        result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*steps: 3 cached, 0 run*"])
