"""Hygiene: a pytest session leaves no temporary directory, process or mount after a normal
run, after Ctrl-C during a build, and after an xdist worker is SIGKILLed mid-build."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project
from tests.plugin.session_support import (
    RECORD,
    mounts_under,
    run_session,
    tmp_leftovers,
    wait_for_run,
    wait_gone,
)

DOCKERFILES = {
    f"Dockerfile.{name}": BASE + f"RUN sleep 1 && echo {name} > /{name}\n" for name in "ab"
}


def _check_clean(proc_pid: int, tmpdir: Path, output: str) -> None:
    assert wait_gone(proc_pid) == [], f"processes of the session survive:\n{output}"
    assert mounts_under(tmpdir) == [], output
    assert tmp_leftovers(tmpdir) == [], output


@pytest.fixture
def project(pytester: pytest.Pytester, busybox_rootfs_tar: Path) -> Path:
    build_project(pytester, busybox_rootfs_tar, DOCKERFILES)
    pytester.makepyfile(test_record=RECORD)
    return pytester.path


def test_a_normal_run_leaves_no_temp_dir_process_or_mount(project: Path, tmp_path: Path) -> None:
    """Fault: none; a session with ``-p no:cacheprovider`` and no cache directory given, so
    its image cache is a per-run directory in the system temp directory. Must hold: the
    session passes and afterwards nothing of it is left in the temp directory, no process
    of its session lives and nothing is mounted there."""
    proc = run_session(project, tmpdir=tmp_path / "tmp")
    out = proc.communicate(timeout=180)[0]
    assert proc.returncode == 0, out
    assert "images: 2 built" in out
    _check_clean(proc.pid, tmp_path / "tmp", out)


def test_ctrl_c_during_a_build_leaves_nothing(project: Path, tmp_path: Path) -> None:
    """Fault: SIGINT to the session's process group (Ctrl-C in a terminal) while a RUN is
    sleeping. Must hold: the session stops (interrupted) and leaves no temp directory, no
    process (the RUN's included) and no mount."""
    proc = run_session(project, tmpdir=tmp_path / "tmp")
    wait_for_run(proc)
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    _check_clean(proc.pid, tmp_path / "tmp", out)


def test_a_killed_xdist_worker_leaves_nothing_behind(project: Path, tmp_path: Path) -> None:
    """Fault: the xdist worker that is building an image is SIGKILLed while its RUN sleeps
    (an OOM kill), in a session whose image cache is a per-run directory. Must hold: the
    session ends with the crash reported, and leaves no temp directory (the dead worker's
    staging and build directories went with the run directory), no process and no mount.
    (With a shared cache directory the dead worker's staging directory is reaped by the next
    process to open it: ``test_what_cannot_be_removed_is_a_summary_warning`` and
    ``test_build_concurrency.py::test_killed_build_leaves_no_trusted_entry``.)"""
    tmpdir = tmp_path / "tmp"
    proc = run_session(project, "-n", "2", "-p", "xdist", tmpdir=tmpdir)
    worker = _worker_of(wait_for_run(proc), proc.pid)
    os.kill(worker, signal.SIGKILL)
    out = proc.communicate(timeout=180)[0]
    assert "crashed" in out, out
    _check_clean(proc.pid, tmpdir, out)


def _worker_of(pid: int, session: int) -> int:
    """The xdist worker process above ``pid``: the ancestor whose parent is the session."""
    while True:
        stat = Path(f"/proc/{pid}/stat").read_text()
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == session:
            return pid
        if parent <= 1:
            raise AssertionError("the RUN is not below the session")
        pid = parent


def test_what_cannot_be_removed_is_a_summary_warning(project: Path, tmp_path: Path) -> None:
    """Fault: a dead build's staging directory in the shared cache directory holds a mount
    point (a crash left a mount behind), so the reaper cannot remove it. Must hold: the
    session (with xdist workers) still builds and passes, and its terminal summary names
    what the worker could not remove; once the mount is gone a later session removes it."""
    cache = tmp_path / "cache"
    dead = cache / "tmp" / "build-dead"
    (dead / "mnt").mkdir(parents=True)
    (cache / "tmp" / "build-dead.live").touch()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(dead / "mnt")], check=True)
    args = ("--imagebuild-cache-dir", str(cache), "-k", "a and 0")
    try:  # under xdist: the worker that reaps reports to the controller's summary
        proc = run_session(project, "-n", "2", "-p", "xdist", *args, tmpdir=tmp_path / "tmp")
        out = proc.communicate(timeout=180)[0]
    finally:
        subprocess.run(["umount", str(dead / "mnt")], check=True)
    assert proc.returncode == 0, out
    assert f"could not remove: {dead / 'mnt'}: " in out
    again = run_session(project, *args, tmpdir=tmp_path / "tmp")
    out = again.communicate(timeout=180)[0]
    assert again.returncode == 0, out
    assert "could not remove" not in out
    assert list((cache / "tmp").iterdir()) == []
