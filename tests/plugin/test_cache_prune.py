"""The size bound of the built images: least recently used go first, none a session used."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project

TESTS = """
import pytest

@pytest.mark.parametrize("name", ["a", "b"])
def test_image(image_factory, name):
    assert image_factory.build("Dockerfile." + name, context=".").file("/" + name).exists
"""


def test_least_recently_used_images_go_first_and_used_ones_stay(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """Fault: the built images outgrow ``--imagebuild-cache-max-size``. Must hold: at the
    end of a session the least recently used image not used by it is removed and the
    summary says so with sizes; the image the session used stays although the bound is
    smaller than it (the summary says why); a bad size stops pytest with a usage error."""
    files = {f"Dockerfile.{n}": BASE + f"RUN echo {n} > /{n}\n" for n in "ab"}
    # what the runs themselves write in the project stays out of the context
    files[".dockerignore"] = "runpytest-*\nstdout\nstderr\n.benchmarks\n**/__pycache__\n*.py\n"
    build_project(pytester, busybox_rootfs_tar, files)
    pytester.makepyfile(test_images=TESTS)
    cache = tmp_path / "cache"
    first = pytester.runpytest_subprocess(
        "--imagebuild-cache-dir", str(cache), "-p", "no:cacheprovider"
    )
    first.assert_outcomes(passed=2)
    entries = sorted(cache.glob("images/*/*"))
    assert len(entries) == 2
    hour_ago = time.time() - 3600
    for entry in entries:
        os.utime(entry / "entry.json", (hour_ago, hour_ago))
    second = pytester.runpytest_subprocess(
        "--imagebuild-cache-dir", str(cache), "-p", "no:cacheprovider", "-k", "b",
        "--imagebuild-cache-max-size", "1kB",
    )  # fmt: skip
    second.assert_outcomes(passed=1, deselected=1)
    assert "images: 0 built" in second.stdout.str()  # b came from the cache, so b was used
    second.stdout.fnmatch_lines(
        [
            "image cache: removed 1 least recently used image (* MB), * MB left of 1.0 kB"
            " (the images this session used stay)"
        ]
    )
    [kept] = cache.glob("images/*/*")
    assert (kept / "image.tar").stat().st_size > 1000
    assert list((cache / "tmp").iterdir()) == []
    bad = pytester.runpytest("--imagebuild-cache-max-size", "lots")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--imagebuild-cache-max-size: invalid size 'lots'*"])
