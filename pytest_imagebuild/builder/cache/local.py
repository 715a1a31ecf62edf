"""The local layer cache: entry files by key plus a BlobStore, under one directory.

Layout::

    <root>/blobs/sha256/<hex>        layer blobs (BlobStore: temp name, then rename)
    <root>/entries/<hh>/<key>.json   one entry per step key, written last (temp, then rename)
    <root>/locks/<hh>/<key>.lock     flock per key, for writers and for "build once" callers
    <root>/memo/<hash of root>.json  content-hash memos of build contexts

An entry is only written once its layer blob sits complete in the store, so a killed writer
leaves at most stray temp files, never an entry a later run would trust. Temp files are
locked by their writer while in flight (``livedirs.locked_temp``): :meth:`LocalCache.reap`
removes those of dead writers, at any age. An entry names its blob by digest and size; the
size is checked on every use, the digest when the blob is small or the entry young (the window
in which a crash could have lost what a rename did not wait for), once per blob and process.
A blob that fails the check is removed, so the step is built and stored again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.errors import ImageBuildError, UsageError

from ..blobs import BlobStore
from ..dockerfile.duration import parse_duration
from ..livedirs import reap_temp
from .entry import CachedStep, EntryError
from .hashing import HashMemo
from .keys import StepKey
from .store import file_lock, write_atomic

__all__ = [
    "DEFAULT_TTL",
    "VERIFY_AGE",
    "VERIFY_SIZE",
    "CacheUsage",
    "LocalCache",
    "default_cache_dir",
    "parse_ttl",
]

DEFAULT_TTL = 336 * 3600.0  # kaniko's --cache-ttl default, two weeks
_GRACE = 3600.0  # an unreferenced blob younger than this may be one a build is about to name
VERIFY_AGE = 600.0
"""Entries younger than this (seconds) have their blob's digest checked on use."""
VERIFY_SIZE = 1 << 20
"""Blobs up to this size (bytes) have their digest checked on use, whatever their age."""


def parse_ttl(text: str) -> float:
    """kaniko's ``--cache-ttl`` (a Go duration such as ``336h`` or ``90m``) in seconds."""
    try:
        ns = parse_duration(text.strip())
    except ValueError as exc:
        raise UsageError(f"invalid --cache-ttl {text!r}", hint="use a duration like 336h") from exc
    if ns <= 0:
        raise UsageError(f"--cache-ttl must be positive, not {text!r}")
    return ns / 1e9


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/imagebuild``, else ``~/.cache/imagebuild``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "imagebuild"


@dataclass(frozen=True)
class CacheUsage:
    """What a prune removed, or what a cache holds: entries and blob bytes."""

    entries: int
    blobs: int
    bytes: int


class LocalCache:
    """Entries and blobs on local disk; safe for concurrent processes sharing ``root``."""

    def __init__(
        self, root: Path, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.ttl = ttl
        self.clock = clock
        self.blobs = BlobStore(root)
        (root / "entries").mkdir(parents=True, exist_ok=True)
        self._verified: set[str] = set()  # blob digests this process hashed and found right

    def entry_path(self, key: StepKey) -> Path:
        return self.root / "entries" / key.hex[:2] / f"{key.hex}.json"

    def lock(self, key: StepKey) -> contextlib.AbstractContextManager[None]:
        """Exclusive per-key lock: hold it across lookup, build and store to build once."""
        return file_lock(self.root / "locks" / key.hex[:2] / f"{key.hex}.lock")

    def memo(self, context_root: Path) -> HashMemo:
        name = hashlib.sha256(str(context_root.absolute()).encode()).hexdigest()[:32]
        return HashMemo(self.root / "memo" / f"{name}.json")

    def get(self, key: StepKey) -> CachedStep | None:
        """The entry for ``key`` when it is valid, unexpired and its blob is present."""
        try:
            step = CachedStep.from_json(json.loads(self.entry_path(key).read_bytes()), key)
        except (OSError, ValueError, EntryError):
            return None
        if self.expired(step):
            return None
        if step.layer is not None and not self._blob_ok(step):
            return None
        return step

    def _blob_ok(self, step: CachedStep) -> bool:
        """Size always; the digest when cheap or when the entry is young (then once)."""
        layer = step.layer
        if layer is None:
            return True
        try:
            path = self.blobs.path(layer.digest)
            if path.stat().st_size != layer.size:
                return False
        except (OSError, ValueError):
            return False
        young = self.clock() - step.created < VERIFY_AGE
        if layer.digest in self._verified or not (young or layer.size <= VERIFY_SIZE):
            return True
        try:
            with path.open("rb") as fh:
                found = "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return False
        if found != layer.digest:
            with contextlib.suppress(OSError):
                path.unlink()  # a damaged blob: the next build stores it again
            return False
        self._verified.add(layer.digest)
        return True

    def expired(self, step: CachedStep) -> bool:
        return step.created + self.ttl < self.clock()

    def put(self, key: StepKey, step: CachedStep, *, source: BlobStore | None = None) -> CachedStep:
        """Store ``step`` under ``key``; returns the entry that holds (the first writer wins).

        The layer blob must be in this cache's store already, or in ``source``, from which it
        is hard-linked (same filesystem) or copied with its digest verified.
        """
        if step.layer is not None:
            self._import_blob(step.layer.digest, step.layer.size, source)
        with self.lock(key):
            existing = self.get(key)
            if existing is not None:
                return existing
            if step.created <= 0:
                step = CachedStep(step.layer, step.history, step.config, self.clock())
            path = self.entry_path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(step.to_json(key), sort_keys=True).encode())
            return step

    def _import_blob(self, digest: str, size: int, source: BlobStore | None) -> None:
        dest = self.blobs.path(digest)
        if not dest.is_file() and source is not None and source.has(digest):
            src = source.path(digest)
            try:  # a store names a blob only once it is complete: link it under that name
                os.link(src, dest)
            except FileExistsError:
                pass  # another writer put it there
            except OSError:
                with src.open("rb") as fh, self.blobs.writer(expected=digest) as writer:
                    while data := fh.read(1 << 20):
                        writer.write(data)
        try:
            found = dest.stat().st_size
        except FileNotFoundError:
            raise ImageBuildError(
                f"cannot cache layer {digest}: the blob is not in {self.blobs.root}"
            ) from None
        if found != size:
            raise ImageBuildError(f"cannot cache layer {digest}: {found} bytes, expected {size}")

    def _entries(self) -> Iterator[tuple[Path, StepKey]]:
        for path in sorted((self.root / "entries").glob("*/*.json")):
            try:
                yield path, StepKey(path.stem)
            except ValueError:
                continue

    def prune(self) -> CacheUsage:
        """Remove expired or broken entries, blobs nothing refers to, and dead writers' temp
        files."""
        removed = 0
        referenced: set[str] = set()
        for path, key in self._entries():
            with self.lock(key):
                step = self.get(key)
                if step is None:
                    path.unlink(missing_ok=True)
                    removed += 1
                elif step.layer is not None:
                    referenced.add(step.layer.digest.partition(":")[2])
        blobs = freed = 0
        old = self.clock() - _GRACE
        for blob in (self.root / "blobs" / "sha256").iterdir():
            if blob.name.startswith("."):
                continue  # a temp file: reap() judges it by its writer's lock
            with contextlib.suppress(FileNotFoundError):
                st = blob.stat()
                if blob.name not in referenced and st.st_mtime < old:
                    blob.unlink()
                    blobs += 1
                    freed += st.st_size
        self.reap()
        return CacheUsage(removed, blobs, freed)

    def reap(self) -> list[str]:
        """Remove the temp files of writers that died (blobs, entries, memos); returns what could
        not be removed. Files still being written are left, whatever their age."""
        problems = self.blobs.reap_temp() + reap_temp(self.root / "memo")
        for directory in sorted((self.root / "entries").glob("[0-9a-f][0-9a-f]")):
            problems += reap_temp(directory)
        return problems

    def usage(self) -> CacheUsage:
        entries = sum(1 for _ in self._entries())
        sizes = [p.stat().st_size for p in (self.root / "blobs" / "sha256").glob("[0-9a-f]*")]
        return CacheUsage(entries, len(sizes), sum(sizes))
