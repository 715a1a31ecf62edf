"""One build per image under pytest-xdist and across concurrent runs; killed builds leave
nothing a later run trusts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project, summary

SHARED = """
import pytest

pytestmark = pytest.mark.dockerfile()

@pytest.mark.parametrize("n", range(6))
def test_uses_image(image, n):
    assert image.file("/slow").read_text() == "done\\n"
"""

SLOW = BASE + "RUN sleep 1 && echo done > /slow\n"


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "images").glob("*/*/image.tar"))


def test_xdist_workers_build_each_image_once(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": SLOW})
    pytester.makepyfile(test_shared=SHARED)
    # pytest-benchmark, when installed, warns under xdist (an error here)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "xdist", "-p", "no:benchmark")
    result.assert_outcomes(passed=6)
    line = summary(result)
    assert line.startswith("images: 1 built"), line
    assert ", 1 reused, 0 failed" in line  # the other worker waited on the lock, then reused
    result.stdout.fnmatch_lines(
        ["built  */Dockerfile [[]gw?[]]: *", "reused */Dockerfile [[]gw?[]]: *"]
    )
    assert len(_entries(pytester.path / ".pytest_cache/d/imagebuild")) == 1


def _pytest(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_concurrent_runs_sharing_a_cache_dir_build_once(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": SLOW})
    pytester.makepyfile(test_shared=SHARED)
    cache = tmp_path / "shared"
    runs = [_pytest(pytester.path, "--imagebuild-cache-dir", str(cache)) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    totals = sorted(
        next(line for line in out.splitlines() if line.startswith("images: ")) for out in outputs
    )
    assert totals[0].startswith("images: 0 built"), totals
    assert ", 1 reused" in totals[0]
    assert totals[1].startswith("images: 1 built"), totals
    assert len(_entries(cache)) == 1


def test_killed_build_leaves_no_trusted_entry(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    build_project(
        pytester, busybox_rootfs_tar, {"Dockerfile": BASE + "RUN sleep 3 && echo done > /slow\n"}
    )
    pytester.makepyfile(test_shared=SHARED)
    cache = tmp_path / "cache"
    run = _pytest(pytester.path, "--imagebuild-cache-dir", str(cache))
    deadline = time.monotonic() + 60
    while not list((cache / "tmp").glob("build-*/work/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    assert _entries(cache) == []
    again = _pytest(pytester.path, "--imagebuild-cache-dir", str(cache))
    output = again.communicate(timeout=120)[0]
    assert again.returncode == 0, output
    assert "images: 1 built" in output
    assert len(_entries(cache)) == 1
