"""File contents of one layer: reads on demand and sha256 of files on first use.

Indexing reads only tar headers (and hashes whole layers for their digests), so a
file's sha256 is computed when it is first asked for and kept for the ``Image``'s
lifetime. With an index cache, digests computed this way are written back to the
layer's index when the image is closed, so a later open has them at no cost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pytest_imagebuild.image.compressed import CompressedData
from pytest_imagebuild.image.stream import CHUNK, BlobRef, Limits
from pytest_imagebuild.image.tarindex import Member

__all__ = ["LayerData"]

Store = Callable[[list[Member]], None]


class LayerData:
    """Reads file contents of one layer: uncompressed layers in place with pread,
    compressed ones through a ``CompressedData`` cursor."""

    def __init__(
        self,
        fd: int,
        blob: BlobRef,
        compression: str,
        limits: Limits,
        members: list[Member],
        store: Store | None = None,
    ) -> None:
        self.fd = fd
        self.blob = blob
        self.members = members
        self.store = store
        self.digests: dict[int, str] = {}  # data offset -> sha256 hex, computed here
        self.flushed = 0
        self.compressed = (
            CompressedData(fd, blob, compression, limits) if compression != "none" else None
        )

    def read(self, offset: int, size: int) -> bytes:
        if self.compressed is None:
            return self.blob.pread(self.fd, offset, size)
        return self.compressed.read(offset, size)

    def _hash(self, offset: int, size: int) -> str:
        hasher = hashlib.sha256()
        for start in range(offset, offset + size, CHUNK):
            hasher.update(self.read(start, min(CHUNK, offset + size - start)))
        return hasher.hexdigest()

    def sha256(self, entry: Member) -> str:
        """The hex sha256 of a regular file's content."""
        if entry.sha256 is not None:
            return entry.sha256
        digest = self.digests.get(entry.offset)
        if digest is not None:
            return digest
        if self.compressed is not None:
            # Random reads in a compressed stream are dear: hash every file of the
            # layer in one forward pass, as a walk over all digests would need anyway.
            for m in self.members:
                if m.kind == "f" and m.sha256 is None and m.offset not in self.digests:
                    self.digests[m.offset] = self._hash(m.offset, m.size)
            return self.digests[entry.offset]
        digest = self.digests[entry.offset] = self._hash(entry.offset, entry.size)
        return digest

    def flush(self) -> None:
        """Write digests computed since the index was stored into the index cache."""
        digests = self.digests
        if self.store is None or len(digests) == self.flushed:
            return
        new = tuple.__new__
        self.store(
            [
                new(Member, (*m[:10], digests[m.offset]))
                if m.kind == "f" and m.offset in digests
                else m
                for m in self.members
            ]
        )
        self.flushed = len(digests)
