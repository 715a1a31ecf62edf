"""Directories and temp files of live processes, and the reaping of those whose owner died.

A live directory ``<base>/<prefix><random>`` has a lock file beside it,
``<base>/<prefix><random>.live``, that its owner holds an exclusive ``flock`` on for the
directory's whole life. The lock file is made (and locked) before the directory and removed
after it, so a directory always has its lock file: whoever can take that lock knows the
owner is gone (the kernel drops a flock when its holder dies, even by SIGKILL) and may
remove both. Age plays no part: a build that runs for a day keeps its directory.

Removal goes through the user namespace when the caller is not root, so files a rootless
build left owned by subordinate ids go too; what cannot be removed is reported, never
silently kept.

A temp file made by :func:`locked_temp` works the same way on its own: its writer holds an
``flock`` on it until it is renamed into place (the lock follows the inode) or removed, so
:func:`reap_temp` removes a dead writer's leftover, never a file still being written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pytest_imagebuild.builder import userns
from pytest_imagebuild.errors import ImageBuildError

__all__ = [
    "LIVE_SUFFIX",
    "TEMP_PREFIX",
    "live_dir",
    "locked_temp",
    "reap_dead",
    "reap_temp",
    "remove_tree",
    "sync_dir",
]

LIVE_SUFFIX = ".live"
TEMP_PREFIX = ".tmp-"


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _rmtree(path: str) -> list[str]:
    """``shutil.rmtree`` that goes on past errors and returns them, one line each."""
    failures: list[str] = []

    def record(_func: object, name: str, exc: tuple[type, BaseException, object]) -> None:
        failures.append(f"{name}: {exc[1]}")

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=record)  # onexc needs Python 3.12
    return failures


def remove_tree(path: Path) -> list[str]:
    """Remove ``path`` with everything in it, including files of subordinate ids.

    Returns what could not be removed (empty when all went).
    """
    if not os.path.lexists(path):
        return []
    failures = _rmtree(str(path))
    if not failures or os.geteuid() == 0:  # root, or root of the build's user namespace
        return failures
    # files of subordinate ids (or directories they made read-only): as the build did
    try:
        return userns.run_in_userns(_rmtree, str(path))
    except ImageBuildError as exc:  # no user namespace here: as much as this user may
        return [*_rmtree(str(path)), f"{path}: no user namespace to remove it in: {exc}"]


def _lock_new(base: Path, prefix: str) -> tuple[int, Path]:
    while True:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=LIVE_SUFFIX, dir=base)
        fcntl.flock(fd, fcntl.LOCK_EX)
        lock = Path(name)
        if _same_file(fd, lock):  # a reaper did not take it between create and lock
            return fd, lock
        os.close(fd)


@contextlib.contextmanager
def live_dir(base: Path, prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh directory under ``base``, locked as live until the block ends.

    It is removed at the end unless ``keep`` (then only its lock goes, and no reaper ever
    touches it). Raises OSError when it cannot be removed (its lock file stays, so a later
    :func:`reap_dead` tries again).
    """
    base.mkdir(parents=True, exist_ok=True)
    fd, lock = _lock_new(base, prefix)
    path = lock.with_name(lock.name[: -len(LIVE_SUFFIX)])
    try:
        path.mkdir(mode=0o700)
        yield path
    finally:
        try:
            failures = [] if keep else remove_tree(path)
            if not failures:
                lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
    if failures:
        raise OSError(f"could not remove {path}: {'; '.join(failures[:3])}")


def reap_dead(base: Path, prefix: str) -> list[str]:
    """Remove every ``<base>/<prefix>*`` directory whose owner is gone; skip live ones.

    Returns one line per thing that could not be removed.
    """
    problems: list[str] = []
    try:
        locks = sorted(base.glob(f"{prefix}*{LIVE_SUFFIX}"))
    except OSError as exc:
        return [f"{base}: {exc}"]
    mine: list[Path] = []
    for lock in locks:
        try:
            if lock.lstat().st_uid == os.getuid():  # another user's build: not ours to judge
                mine.append(lock)
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{lock}: {exc}")
    for lock in _unlocked(mine, os.O_RDWR, problems):
        failures = remove_tree(lock.with_name(lock.name[: -len(LIVE_SUFFIX)]))
        if failures:
            problems += failures
        else:
            lock.unlink(missing_ok=True)
    return problems


def locked_temp(directory: Path, prefix: str = TEMP_PREFIX) -> tuple[int, Path]:
    """A new temp file in ``directory``, open for writing and exclusively locked.

    The lock lives as long as the returned descriptor: close it only after the rename (or
    after removing the file).
    """
    while True:
        fd, name = tempfile.mkstemp(dir=directory, prefix=prefix)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = Path(name)
        if _same_file(fd, path):  # no reaper removed it between create and lock
            return fd, path
        os.close(fd)


def reap_temp(directory: Path, pattern: str = TEMP_PREFIX + "*") -> list[str]:
    """Remove the temp files matching ``pattern`` in ``directory`` whose writer is gone.

    Returns one line per file that could not be removed.
    """
    problems: list[str] = []
    try:
        names = sorted(directory.glob(pattern))
    except OSError as exc:
        return [f"{directory}: {exc}"]
    for path in _unlocked(names, os.O_RDONLY, problems):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(f"{path}: {exc}")
    return problems


def _unlocked(paths: list[Path], flags: int, problems: list[str]) -> Iterator[Path]:
    """Each of ``paths`` whose lock no live process holds, yielded while this process holds
    it (so nothing takes it over meanwhile); what cannot be opened goes to ``problems``."""
    for path in paths:
        try:
            fd = os.open(path, flags | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{path}: {exc}")
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            if _same_file(fd, path):
                yield path
        finally:
            os.close(fd)


def sync_dir(path: Path) -> None:
    """fsync a directory, so a rename inside it survives a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with contextlib.suppress(OSError):  # some file systems refuse it; the rename stands
            os.fsync(fd)
    finally:
        os.close(fd)
