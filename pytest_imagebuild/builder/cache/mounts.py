"""Directories of ``RUN --mount=type=cache`` that persist across builds.

Each cache lives in ``<root>/<sha256 of its id>/`` (``root`` is ``<cache dir>/mounts``),
beside a lock file ``<sha256>.lock`` whose ``flock`` implements BuildKit's ``sharing``:

- ``shared``: a shared lock; any number of RUNs (threads of one build, other builds) use the
  directory at once. A ``locked`` or unshared ``private`` holder makes them wait.
- ``locked``: an exclusive lock for the length of the RUN; others wait their turn.
- ``private``: the exclusive lock if it is free; otherwise a fresh directory that lasts for
  this RUN only.

A missing directory is made under the exclusive lock, at a temp name renamed into place, with
the requested mode and owner, or seeded by copying a stage or image path (``from=``). Seeded
caches are kept apart per source: their directory name hashes the id and the source.
Contents never enter a layer or a cache key; nothing here is removed automatically.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_imagebuild.builder.fs import owners

__all__ = ["SHARING", "CacheMount", "CacheMounts", "Sharing"]

Sharing = Literal["shared", "private", "locked"]
SHARING: tuple[Sharing, ...] = ("shared", "private", "locked")


@dataclass(frozen=True)
class CacheMount:
    """One cache mount request: BuildKit's ``id``, ``sharing``, ``mode``, ``uid``, ``gid``;
    ``seed_from`` names the ``from=``/``source=`` pair it is seeded from ("" for none)."""

    ident: str
    sharing: Sharing = "shared"
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    seed_from: str = ""

    @property
    def name(self) -> str:
        text = self.ident if not self.seed_from else f"{self.ident}\0{self.seed_from}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


Seeder = Callable[[Path], None]
"""Fills a directory that does not exist yet (creates it) with the seed's contents."""


class CacheMounts:
    """The persistent cache directories under ``root``; safe across threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, mount: CacheMount) -> Path:
        return self.root / mount.name

    @contextlib.contextmanager
    def use(
        self,
        mount: CacheMount,
        *,
        scratch: Path,
        exclusive: bool = False,
        seed: Seeder | None = None,
    ) -> Iterator[Path]:
        """The directory to mount for ``mount``, held as its ``sharing`` says until the block
        ends. ``exclusive`` turns ``shared`` into ``locked`` (the chroot mode moves the
        directory into one stage root). A busy ``private`` cache gets a fresh directory
        inside ``scratch``."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(mount)
        fd = os.open(self.root / f"{mount.name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if mount.sharing == "private":
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    fresh = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch)) / "private"
                    _create(fresh, mount, seed)
                    yield fresh
                    return
                self._ensure(path, mount, seed)
            elif mount.sharing == "locked" or exclusive:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._ensure(path, mount, seed)
            else:
                # Made under its own lock: waiting for this one exclusively could wait for a
                # sharer's whole RUN (which may itself wait for us)
                self._ensure(path, mount, seed)
                fcntl.flock(fd, fcntl.LOCK_SH)
            yield path
        finally:
            os.close(fd)

    def _ensure(self, path: Path, mount: CacheMount, seed: Seeder | None) -> None:
        """Make ``path`` when missing, holding ``<name>.create`` so one process makes it."""
        if path.is_dir():
            return
        fd = os.open(
            self.root / f"{mount.name}.create", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not path.is_dir():
                self._make(path, mount, seed)
        finally:
            os.close(fd)

    def _make(self, path: Path, mount: CacheMount, seed: Seeder | None) -> None:
        building = Path(tempfile.mkdtemp(prefix=f".{mount.name[:16]}-", dir=self.root))
        try:
            _create(building / "d", mount, seed)
            os.rename(building / "d", path)
        finally:
            if (building / "d").exists():
                shutil.rmtree(building / "d", ignore_errors=True)
            building.rmdir()


def _create(path: Path, mount: CacheMount, seed: Seeder | None) -> None:
    if seed is not None:
        seed(path)
        return
    path.mkdir()
    owners.chown(str(path), mount.uid, mount.gid, fresh=True)  # recorded in a single-id map
    os.chmod(path, mount.mode)
