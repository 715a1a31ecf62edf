"""Cleanup only of what is dead: reaping never touches a live build; a dead rootless build's
files of subordinate ids go; what cannot be removed is reported."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pytest_imagebuild.builder.cache import LocalCache
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.builder.crash_support import (
    descendants_named,
    finish,
    imagebuild,
    leftovers,
    wait_gone,
)
from tests.builder.rootless import (
    FULL_USER,
    SYSTEM_PYTHON,
    User,
    chown_tree,
    ensure_user,
    project_path,
    user_dir,
)


def _wait_for_sleep(proc: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not descendants_named(proc.pid, "sleep"):
        if proc.poll() is not None:
            raise AssertionError("the build ended before its RUN slept:\n" + proc.communicate()[0])
        if time.monotonic() > deadline:
            raise AssertionError("the RUN never started")
        time.sleep(0.02)


def _args(context: Path, out: Path, builds: Path, *extra: str | Path) -> list[str | Path]:
    return ["-c", context, "--no-push", "--tar-path", out, "--build-root", builds, *extra]


def test_reaping_during_a_live_build_leaves_it(busybox_rootfs: Path, tmp_path: Path) -> None:
    """Fault: while one build is held in a RUN (its ``sleep`` stopped; its build directory
    locked as live and made to look a day old), a second build on the same build root and
    cache directory starts (it reaps dead builds' directories and temp files) and the cache
    is pruned. Must hold: the
    live build's directory is untouched and it completes with a correct image; afterwards
    nothing of either build is left."""
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    slow = write_tree(
        tmp_path / "slow",
        {"Dockerfile": f"FROM oci:{layout}\nRUN echo a > /a && sleep 1\nRUN cat /a > /b\n"},
    )
    quick = write_tree(tmp_path / "quick", {"Dockerfile": f"FROM oci:{layout}\nRUN echo q > /q\n"})
    builds, cache = tmp_path / "builds", tmp_path / "cache"
    cached = ("--cache", "--cache-dir", cache)
    first = imagebuild(*_args(slow, tmp_path / "slow.tar", builds, *cached))
    _wait_for_sleep(first)
    [sleeper] = descendants_named(first.pid, "sleep")
    os.kill(sleeper, signal.SIGSTOP)  # the build stays in its RUN until we are done
    [live] = [p for p in builds.iterdir() if p.is_dir()]
    day_ago = time.time() - 86400
    for path in (live, live.with_name(live.name + ".live")):
        os.utime(path, (day_ago, day_ago))
    finish(imagebuild(*_args(quick, tmp_path / "quick.tar", builds, *cached)))
    LocalCache(cache).prune()
    assert live.is_dir()
    os.kill(sleeper, signal.SIGCONT)
    finish(first)
    with Image.open(tmp_path / "slow.tar") as image:
        assert image.file("/b").read_text() == "a\n"
    assert list(builds.iterdir()) == []
    assert leftovers(cache, builds) == []


def test_report_what_a_dead_build_left_that_cannot_be_removed(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    """Fault: a dead build's directory holds a mount point (a crash left a mount behind), so
    it cannot be removed. Must hold: the next ``imagebuild`` says so on stderr, naming the
    path, and still builds; once the mount is gone, the next build removes the directory."""
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    context = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM oci:{layout}\nRUN echo > /x\n"})
    builds = tmp_path / "builds"
    dead = builds / "imagebuild-dead"
    (dead / "mnt").mkdir(parents=True)
    (builds / "imagebuild-dead.live").touch()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(dead / "mnt")], check=True)
    try:
        out = finish(imagebuild(*_args(context, tmp_path / "out.tar", builds)))
    finally:
        subprocess.run(["umount", str(dead / "mnt")], check=True)
    assert f"imagebuild: could not remove a dead build's files: {dead / 'mnt'}" in out
    assert dead.exists()
    finish(imagebuild(*_args(context, tmp_path / "out.tar", builds)))
    assert list(builds.iterdir()) == []


@pytest.mark.rootless
def test_a_dead_rootless_builds_files_of_subordinate_ids_are_reaped(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    """Fault: an unprivileged user's rootless ``imagebuild`` is SIGKILLed while its RUN
    sleeps, after the RUN made files owned by a subordinate uid in a read-only directory.
    Must hold: no process of it survives; the same user's next ``imagebuild`` on that build
    root removes the dead build's directory (through the user namespace), reports nothing
    it could not remove, and builds."""
    user = ensure_user(FULL_USER, subids=True)
    assert user.subid_start is not None
    work = user_dir(user)
    try:
        _, layout = make_base(busybox_rootfs, work / "base")
        run = "mkdir /owned && echo x > /owned/f && chown -R 1000:1000 /owned && chmod 500 /owned"
        context = write_tree(
            work / "ctx", {"Dockerfile": f"FROM oci:{layout}\nRUN {run} && sleep 60\n"}
        )
        quick = write_tree(work / "quick", {"Dockerfile": f"FROM oci:{layout}\nRUN echo > /q\n"})
        chown_tree(work, user)
        builds = work / "builds"
        first = _as_user(user, *_args(context, work / "a.tar", builds))
        _wait_for_sleep(first)
        owned = [p for p in builds.rglob("f") if p.parent.name == "owned" and p.lstat().st_uid > 0]
        assert owned, "the RUN's files are not in the build directory"
        assert all(p.lstat().st_uid >= user.subid_start for p in owned)  # a subordinate id
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert wait_gone(first.pid) == [], "processes of the killed build survive"
        second = _as_user(user, *_args(quick, work / "q.tar", builds))
        out = second.communicate(timeout=300)[0]
        assert second.returncode == 0, out
        assert "could not remove" not in out
        assert list(builds.iterdir()) == []
    finally:
        shutil.rmtree(work)  # as root: files of any id


def _as_user(user: User, *args: str | Path) -> subprocess.Popen[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": project_path(), "LANG": "C.UTF-8"}
    return subprocess.Popen(
        [
            "setpriv",
            f"--reuid={user.uid}",
            f"--regid={user.gid}",
            "--init-groups",
            SYSTEM_PYTHON,
            "-m",
            "pytest_imagebuild",
            *map(str, args),
        ],
        env=env,
        cwd=str(Path(str(args[1])).parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
