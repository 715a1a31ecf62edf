"""A content-addressed blob store: ``<root>/blobs/sha256/<hex>``, temp name then rename.

A blob is written to a locked temp file (``livedirs.locked_temp``), synced, and renamed to
its digest only once its bytes hash to it, so a blob's name always holds exactly its bytes; a
writer killed midway leaves a temp file that :meth:`BlobStore.reap_temp` removes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pytest_imagebuild.builder.livedirs import locked_temp, reap_temp, sync_dir

__all__ = ["BlobStore", "BlobWriter"]


class BlobWriter:
    """Streams bytes into a temp file while hashing them; ``digest`` is set once closed."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._file = fileobj
        self._hash = hashlib.sha256()
        self.size = 0
        self.digest = ""

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    def finish(self) -> str:
        self.digest = "sha256:" + self._hash.hexdigest()
        return self.digest


class BlobStore:
    """Blobs by digest under one directory; safe for concurrent writers of the same blob."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = root / "blobs" / "sha256"
        self._dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or hexpart.strip("0123456789abcdef"):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self._dir / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    @contextmanager
    def writer(self, expected: str | None = None) -> Iterator[BlobWriter]:
        """Write a blob; on success it appears under its digest, on error nothing remains."""
        fd, tmp = locked_temp(self._dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = BlobWriter(fh)
                yield writer
                fh.flush()
                os.fsync(fh.fileno())  # an entry naming this blob must not outlive its bytes
                digest = writer.finish()
                if expected is not None and digest != expected:
                    raise ValueError(f"blob digest {digest} does not match expected {expected}")
                os.replace(tmp, self.path(digest))  # renamed while still locked
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        sync_dir(self._dir)  # the name survives a power loss before any entry names it

    def reap_temp(self) -> list[str]:
        """Remove temp files of writers that died; returns what could not be removed."""
        return reap_temp(self._dir)

    def write_bytes(self, data: bytes) -> str:
        with self.writer() as w:
            w.write(data)
        return w.digest
