"""Two pytest sessions with two xdist workers each, on one ``--imagebuild-cache-dir``, build
what one sequential session builds; a session never waits on another's unrelated image."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project
from tests.plugin.session_support import RECORD, run_session, wait_for_run

DOCKERFILES = {
    f"Dockerfile.{name}": BASE + f"RUN echo {name} > /{name} && sleep 0.5\n" for name in "ab"
}


def _records(where: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in where.iterdir():
        found.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    return found


def test_two_xdist_sessions_on_one_cache_dir_match_a_sequential_session(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """Fault: two pytest sessions, each with ``-n 2``, start at once on one cache directory
    and need the same two images (four processes racing for two keys). Must hold: both
    pass; each image has the content a single sequential session in a fresh cache
    directory builds; each image is built once in all (the others wait on its key and
    reuse it) and the cache holds exactly two images."""
    build_project(pytester, busybox_rootfs_tar, DOCKERFILES)
    pytester.makepyfile(test_record=RECORD)
    seq = run_session(
        pytester.path,
        "--imagebuild-cache-dir", tmp_path / "seq-cache",
        tmpdir=tmp_path / "seq-tmp", record=tmp_path / "seq",
    )  # fmt: skip
    out = seq.communicate(timeout=180)[0]
    assert seq.returncode == 0, out
    expected = _records(tmp_path / "seq")
    assert sorted(expected) == ["a", "b"]
    assert all(len(digests) == 1 for digests in expected.values()), expected
    cache = tmp_path / "cache"
    args = ("-n", "2", "-p", "xdist", "--imagebuild-cache-dir", str(cache))
    runs = [
        run_session(pytester.path, *args, tmpdir=tmp_path / f"tmp-{i}", record=tmp_path / f"r{i}")
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for i in range(2):
        assert _records(tmp_path / f"r{i}") == expected
    totals = [next(ln for ln in out.splitlines() if ln.startswith("images: ")) for out in outputs]
    built = sum(int(line.split()[1]) for line in totals)
    assert built == 2, totals
    assert len(list((cache / "images").glob("*/*/image.tar"))) == 2


def test_a_session_does_not_wait_for_another_sessions_unrelated_image(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """Fault: one session is held in a RUN of image ``a`` (its ``sleep`` stopped, so it
    keeps every lock it takes) while a second session on the same cache directory needs
    only image ``b``. Must hold: the second session builds ``b`` and passes while the first
    is still held (no lock spans unrelated keys: not the image cache's, the layer cache's,
    the base digests' or the context memo's); the first then completes and passes."""
    build_project(pytester, busybox_rootfs_tar, DOCKERFILES)
    pytester.makepyfile(test_record=RECORD)
    cache = str(tmp_path / "cache")
    first = run_session(
        pytester.path, "--imagebuild-cache-dir", cache, "-k", "a and 0", tmpdir=tmp_path / "t1"
    )
    sleeper = wait_for_run(first)
    os.kill(sleeper, signal.SIGSTOP)
    try:
        second = run_session(
            pytester.path, "--imagebuild-cache-dir", cache, "-k", "b", tmpdir=tmp_path / "t2"
        )
        out = second.communicate(timeout=180)[0]
        assert second.returncode == 0, out
        assert "images: 1 built" in out, out
        assert first.poll() is None, "the held session ended"
    finally:
        os.kill(sleeper, signal.SIGCONT)
    out = first.communicate(timeout=180)[0]
    assert first.returncode == 0, out
