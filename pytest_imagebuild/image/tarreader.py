"""Sources of tar bytes: a chunk stream (compressed layers) or a seekable file range.

Both hand out header blocks with ``take`` and pass over member data with ``skip``;
``offset`` counts the bytes consumed so far (where a member's data starts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from pytest_imagebuild.errors import ImageFormatError

__all__ = ["ChunkReader", "FileReader"]

WINDOW = 65536


class ChunkReader:
    """Reads a forward-only stream of chunks."""

    def __init__(self, chunks: Iterator[bytes], name: str) -> None:
        self.chunks = chunks
        self.name = name
        self.buf = b""
        self.pos = 0
        self.offset = 0

    def _fill(self) -> bool:
        for chunk in self.chunks:
            if chunk:
                self.buf = chunk
                self.pos = 0
                return True
        return False

    def take(self, n: int) -> bytes:
        """Return the next ``n`` bytes, fewer only at the end of the stream."""
        end = self.pos + n
        if end <= len(self.buf):
            data = self.buf[self.pos : end]
            self.pos = end
            self.offset += n
            return data
        parts = [self.buf[self.pos :]]
        have = len(parts[0])
        self.buf, self.pos = b"", 0
        while have < n and self._fill():
            piece = self.buf[: n - have]
            self.pos = len(piece)
            parts.append(piece)
            have += len(piece)
        self.offset += have
        return b"".join(parts)

    def skip(self, n: int) -> None:
        """Consume ``n`` bytes; fail if the stream ends first."""
        self.offset += n
        left = len(self.buf) - self.pos
        if n <= left:
            self.pos += n
            return
        n -= left
        while n > 0:
            if not self._fill():
                raise ImageFormatError(f"{self.name} is truncated: tar data ends early")
            step = min(n, len(self.buf))
            self.pos = step
            n -= step

    def drain(self) -> None:
        """Read the rest of the stream (so that hashes over it complete)."""
        self.buf, self.pos = b"", 0
        for _ in self.chunks:
            pass


class FileReader:
    """Reads a byte range of a file with ``pread``; skipping is a seek, so member data
    is never read. (One ``pread`` per header: measured faster than reading ahead
    through a window, which copies the data of small files.)"""

    def __init__(self, fd: int, start: int, size: int, name: str) -> None:
        self.fd = fd
        self.start = start
        self.size = size
        self.name = name
        self.offset = 0

    def take(self, n: int) -> bytes:
        n = max(0, min(n, self.size - self.offset))
        data = os.pread(self.fd, n, self.start + self.offset) if n else b""
        self.offset += len(data)
        return data

    def skip(self, n: int) -> None:
        if self.offset + n > self.size:
            raise ImageFormatError(f"{self.name} is truncated: tar data ends early")
        self.offset += n

    def drain(self) -> None:
        self.offset = self.size
