"""Built image tarballs on disk, one directory per cache key.

```
<root>/images/<hh>/<key>/image.tar    the docker-archive tarball
<root>/images/<hh>/<key>/entry.json   format, key, name, size, build seconds, step counts
<root>/locks/<hh>/<key>.lock          flock held while one process builds the key
<root>/tmp/build-<random>/entry/      a build in progress (renamed into images/ when done)
<root>/tmp/build-<random>.live        flock held by the process that owns that build
<root>/tmp/evict-<random>/            an entry being removed by ``prune_lru``
```

An entry is trusted only if ``entry.json`` parses, carries this format and its own key, and
the tarball has the recorded size; while the entry is young (``VERIFY_AGE``) the tarball's
sha256 is checked too, since that is when a crash could have lost data the rename did not
wait for. The tarball is synced before ``entry.json`` is written, and the entry directory
appears by one ``rename`` of a complete temp directory, so a build killed at any point leaves
at most a temp directory, never an entry. A temp directory is removed when its owner's lock
is free (the owner died), never because of its age: ``prune_temp`` reports what it could
not remove. ``prune_lru`` keeps the tarballs under a size bound, removing the least recently
used first (``entry.json``'s mtime is touched on each use) and never one used this session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder.cache.store import file_lock, write_atomic
from pytest_imagebuild.builder.livedirs import live_dir, reap_dead, reap_temp

__all__ = [
    "ENTRY_FORMAT",
    "VERIFY_AGE",
    "ImageEntry",
    "ImageStore",
    "Pruned",
    "staged_tarball",
]

ENTRY_FORMAT = "imagebuild-image-2"
VERIFY_AGE = 600.0
"""Entries younger than this (seconds) have their tarball's digest checked on every use."""
_STAGING = "build-"
_EVICTING = "evict-"


@dataclass(frozen=True)
class Pruned:
    """What :meth:`ImageStore.prune_lru` removed, what is left, what it could not remove."""

    images: int
    bytes: int
    left: int
    problems: list[str]


@dataclass(frozen=True)
class ImageEntry:
    """A complete, trusted build result."""

    key: str
    tarball: Path
    size: int
    seconds: float
    steps_cached: int
    steps_run: int


def staged_tarball(staged: Path) -> Path:
    """Where a build in the temp directory ``staged`` writes its tarball."""
    return staged / "entry" / "image.tar"


class ImageStore:
    """Tarballs by key under ``root``; safe for concurrent processes sharing ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, key: str) -> Path:
        return self.root / "images" / key[:2] / key

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Held across lookup, build and store, so one process builds a key while the
        others wait and then find the entry."""
        with file_lock(self.root / "locks" / key[:2] / f"{key}.lock"):
            yield

    def get(self, key: str) -> ImageEntry | None:
        """The entry for ``key`` when it is complete and valid, else None."""
        where = self._dir(key)
        try:
            data = json.loads((where / "entry.json").read_text(encoding="utf-8"))
            tarball = where / "image.tar"
            if (
                not isinstance(data, dict)
                or data.get("format") != ENTRY_FORMAT
                or data.get("key") != key
                or tarball.stat().st_size != data.get("size")
            ):
                return None
            young = time.time() - float(data["created"]) < VERIFY_AGE
            if young and _sha256(tarball) != data.get("sha256"):
                return None
            with contextlib.suppress(OSError):  # a read-only cache still serves
                os.utime(where / "entry.json")  # its mtime is the last use, for prune_lru
            return ImageEntry(
                key,
                tarball,
                int(data["size"]),
                float(data.get("seconds", 0.0)),
                int(data.get("steps_cached", -1)),
                int(data.get("steps_run", -1)),
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh temp directory for one build, locked as live; removed when done. The
        build writes :func:`staged_tarball` inside it; everything else is scratch space."""
        with live_dir(self.root / "tmp", _STAGING) as work:
            (work / "entry").mkdir()
            yield work

    def put(self, key: str, staged: Path, *, seconds: float, steps: tuple[int, int]) -> ImageEntry:
        """Publish the staged tarball under ``key`` (call with the key's lock held)."""
        tarball = staged_tarball(staged)
        with tarball.open("rb") as fh:
            os.fsync(fh.fileno())
        size = tarball.stat().st_size
        entry = {
            "format": ENTRY_FORMAT,
            "key": key,
            "size": size,
            "sha256": _sha256(tarball),
            "seconds": round(seconds, 3),
            "steps_cached": steps[0],
            "steps_run": steps[1],
            "created": time.time(),
        }
        write_atomic(tarball.parent / "entry.json", json.dumps(entry, indent=1).encode())
        final = self._dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a broken leftover (get() refused it): replace it
            shutil.rmtree(final)
        # The temp dir and the entries share a file system: one atomic rename publishes.
        os.rename(tarball.parent, final)
        _sync_dir(final.parent)
        found = self.get(key)
        if found is None:
            raise OSError(f"image cache entry {final} did not verify after writing it")
        return found

    def prune_lru(self, max_bytes: int, *, used_before: float) -> Pruned:
        """Remove the least recently used images until the tarballs total at most
        ``max_bytes``; an image used at or after ``used_before`` (this session's) stays.

        Each goes under its key's lock (a process building or reusing it has it) by one
        rename into a live temp directory, so no reader sees half an entry."""
        entries = sorted(self._entries(), key=lambda item: item[1])
        total = sum(size for _, _, size in entries)
        images = freed = 0
        problems: list[str] = []
        for key, used, size in entries:
            if total <= max_bytes or used >= used_before:
                break
            with self.lock(key):
                try:
                    if (self._dir(key) / "entry.json").stat().st_mtime >= used_before:
                        continue  # used meanwhile
                    with live_dir(self.root / "tmp", _EVICTING) as bin_:
                        os.rename(self._dir(key), bin_ / key)
                    with contextlib.suppress(OSError):  # the <hh> directory, when empty
                        self._dir(key).parent.rmdir()
                except OSError as exc:
                    problems.append(f"{self._dir(key)}: {exc}")
                    continue
            total -= size
            images += 1
            freed += size
        return Pruned(images, freed, total, problems)

    def _entries(self) -> list[tuple[str, float, int]]:
        """(key, last use, tarball bytes) of every entry directory."""
        found = []
        for entry in self.root.glob("images/*/*/entry.json"):
            try:
                size = (entry.parent / "image.tar").stat().st_size
                found.append((entry.parent.name, entry.stat().st_mtime, size))
            except OSError:
                continue
        return found

    def prune_temp(self) -> list[str]:
        """Remove the temp directories and files of processes that died (their lock is
        free); returns what could not be removed."""
        problems = reap_dead(self.root / "tmp", _STAGING)
        problems += reap_dead(self.root / "tmp", _EVICTING)
        # temp files of write_atomic (bases.json, context memos) whose writer died
        return problems + reap_temp(self.root) + reap_temp(self.root / "memo")


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
