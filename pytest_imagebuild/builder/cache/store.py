"""Small file primitives the cache relies on: atomic writes and per-key locks.

A temp file is made by ``livedirs.locked_temp``: its writer holds a ``flock`` on it until it
is renamed into place, so ``livedirs.reap_temp`` removes a dead writer's leftover whatever
its age, and never a file still being written.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_imagebuild.builder.livedirs import locked_temp, sync_dir

__all__ = ["file_lock", "sync_dir", "write_atomic"]

_held = threading.local()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a locked temp name beside ``path``, fsync it, then rename it."""
    fd, tmp = locked_temp(path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)  # still locked: a reaper never takes a file in flight
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed), released on exit or death.

    Re-entrant within one thread (a caller holding a key's lock may store under it); other
    threads and processes wait.
    """
    counts: dict[str, int] = _held.__dict__.setdefault("counts", {})
    name = str(path)
    if counts.get(name):
        counts[name] += 1
        try:
            yield
        finally:
            counts[name] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        counts[name] = 1
        try:
            yield
        finally:
            del counts[name]
    finally:
        os.close(fd)
