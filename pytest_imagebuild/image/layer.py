"""Layers: the public ``Layer`` value and indexing layer blobs.

Indexing reads each layer's tar headers once and verifies the layer's digests.
An uncompressed layer is hashed by worker threads (``hashlib`` releases the GIL on
large buffers) while the main thread parses its headers with ``pread``, seeking
past file data; workers start on every layer at once, so hashing of later layers
overlaps parsing of earlier ones. A compressed layer is read, hashed and
decompressed in a thread ahead of the parser (``prefetch.py``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.cache import Indexed, Place, load_index, place_of, store_index
from pytest_imagebuild.image.prefetch import prefetched
from pytest_imagebuild.image.stream import (
    CHUNK,
    BlobRef,
    Limits,
    compression_of,
    decompressed_chunks,
)
from pytest_imagebuild.image.tarindex import iter_members
from pytest_imagebuild.image.tarreader import ChunkReader, FileReader

__all__ = ["Indexed", "Layer", "LayerIndexer"]

WORKERS = 2


@dataclass(frozen=True)
class Layer:
    """One layer of an image, bottom first."""

    index: int
    digest: str
    diff_id: str
    size: int
    media_type: str
    created_by: str


class _Pending(NamedTuple):
    fd: int
    blob: BlobRef
    key: str | None
    place: Place | None
    cached: Indexed | None  # a stored index, trusted if the blob is at one of its places
    compression: str
    digest: Future[str] | None  # the blob's digest, hashed in a worker


class LayerIndexer:
    """Indexes the layers of one image; ``start`` every layer first, then ``finish``
    them in order. Use as a context manager: leaving it stops the worker threads."""

    def __init__(self, limits: Limits, cache: Path | None) -> None:
        self.limits = limits
        self.cache = cache
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="layer-hash")

    def __enter__(self) -> LayerIndexer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def start(self, fd: int, blob: BlobRef, key: str | None) -> _Pending:
        """Look ``key`` up in the cache; else start hashing the blob if it is uncompressed.

        A stored index is used as it is only for a blob at a place it was verified at
        (same file identity, size, mtime and ctime); elsewhere the blob is hashed
        again (no parse) and the index used only if the digest is the stored one."""
        if self.cache is not None and key is not None:
            place = place_of(fd, blob.offset)
            cached = load_index(self.cache, key, blob.size)
            if cached is not None:
                again = None if place in cached.places else self.pool.submit(self._digest, fd, blob)
                return _Pending(fd, blob, key, place, cached, "", again)
            return self._begin(fd, blob, key, place)
        return self._begin(fd, blob, key, None)

    def _begin(self, fd: int, blob: BlobRef, key: str | None, place: Place | None) -> _Pending:
        compression = compression_of(blob.pread(fd, 0, min(4, blob.size)))
        digest = self.pool.submit(self._digest, fd, blob) if compression == "none" else None
        return _Pending(fd, blob, key, place, None, compression, digest)

    def _digest(self, fd: int, blob: BlobRef) -> str:
        hasher = hashlib.sha256()
        pos = 0
        while pos < blob.size and not self.stop.is_set():
            data = os.pread(fd, min(CHUNK, blob.size - pos), blob.offset + pos)
            if not data:
                raise ImageFormatError(f"blob {blob.name} is truncated")
            hasher.update(data)
            pos += len(data)
        return "sha256:" + hasher.hexdigest()

    def finish(self, job: _Pending) -> Indexed:
        """The layer's index; its digests are computed, not yet compared (a stored
        index carries the digests it was verified with)."""
        cached = job.cached
        places = () if job.place is None else (job.place,)
        if cached is not None:
            if job.digest is None:
                return cached
            if job.digest.result() == cached.digest:
                return cached._replace(places=cached.places + places)
            job = self._begin(job.fd, job.blob, job.key, job.place)  # changed bytes
        where = f"layer {job.blob.name}"
        if job.digest is not None:
            reader = FileReader(job.fd, job.blob.offset, job.blob.size, where)
            notes: list[str] = []
            members = iter_members(reader, True, self.limits, notes)
            digest = job.digest.result()
            return Indexed("none", digest, digest, members, places, tuple(notes))
        return self._streamed(job.fd, job.blob, job.compression, where)._replace(places=places)

    def store(self, job: _Pending, index: Indexed) -> None:
        """Keep a verified index; one used from the cache where it was verified is not
        written again."""
        if self.cache is None or job.key is None:
            return
        if job.cached is not None and job.digest is None:
            return
        store_index(self.cache, job.key, job.blob.size, index)

    def _streamed(self, fd: int, blob: BlobRef, compression: str, where: str) -> Indexed:
        raw_hash = hashlib.sha256()
        diff_hash = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            raw = blob.raw_chunks(fd, raw_hash.update)
            for chunk in decompressed_chunks(raw, compression, self.limits, blob.name):
                diff_hash.update(chunk)
                yield chunk

        chunks = prefetched(hashed())
        notes: list[str] = []
        try:
            members = iter_members(ChunkReader(chunks, where), True, self.limits, notes)
        finally:
            chunks.close()  # stops the reader thread at once, also on errors
        return Indexed(
            compression,
            "sha256:" + diff_hash.hexdigest(),
            "sha256:" + raw_hash.hexdigest(),
            members,
            (),
            tuple(notes),
        )
