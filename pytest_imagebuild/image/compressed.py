"""Random reads from a compressed layer without unpacking it anywhere.

Reads move one decompression cursor forward. The last ``WINDOW`` bytes of output
stay in memory, so a read a little behind the cursor (path order differing from
tar order inside a directory) costs nothing. A read further back restarts: gzip
layers restart from the nearest checkpoint (a copy of the zlib state taken every
``CHECKPOINT`` bytes of output), zstd layers from the start of the blob.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterator

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.stream import CHUNK, BlobRef, Limits, decompressed_chunks

__all__ = ["CompressedData"]

WINDOW = 16 << 20
CHECKPOINT = 8 << 20
RAW_PIECE = 256 << 10


class CompressedData:
    """File data of one gzip or zstd layer, read on demand."""

    def __init__(self, fd: int, blob: BlobRef, compression: str, limits: Limits) -> None:
        self.fd = fd
        self.blob = blob
        self.compression = compression
        self.limits = limits
        self.checkpoints: list[tuple[int, int, zlib._Decompress]] = []
        self.chunks: Iterator[tuple[int, bytes]] | None = None
        self.window: deque[tuple[int, bytes]] = deque()
        self.window_bytes = 0
        self.pos = 0

    def read(self, offset: int, size: int) -> bytes:
        if size <= 0:
            return b""
        if self.chunks is None or offset < (self.window[0][0] if self.window else self.pos):
            self._restart(offset)
        end = offset + size
        parts: list[bytes] = []
        want = offset
        for start, data in self.window:
            if start + len(data) > want and start < end:
                piece = data[want - start : end - start]
                parts.append(piece)
                want += len(piece)
        while want < end:
            start, data = self._next()
            if start + len(data) > want:
                piece = data[want - start : end - start]
                parts.append(piece)
                want += len(piece)
        return b"".join(parts)

    def _next(self) -> tuple[int, bytes]:
        if self.chunks is None:
            raise ImageFormatError(f"layer {self.blob.name}: no reader")
        item = next(self.chunks, None)
        if item is None:
            raise ImageFormatError(f"layer {self.blob.name} is truncated: file data ends early")
        self.window.append(item)
        self.window_bytes += len(item[1])
        while self.window_bytes - len(self.window[0][1]) >= WINDOW:
            self.window_bytes -= len(self.window.popleft()[1])
        self.pos = item[0] + len(item[1])
        return item

    def _restart(self, offset: int) -> None:
        self.window.clear()
        self.window_bytes = 0
        if self.compression == "gzip":
            self.chunks = self._gzip_from(offset)
        else:
            raw = self.blob.raw_chunks(self.fd, None)
            chunks = decompressed_chunks(raw, self.compression, self.limits, self.blob.name)
            self.chunks = _numbered(chunks, 0)
        self.pos = 0

    def _gzip_from(self, offset: int) -> Iterator[tuple[int, bytes]]:
        out, raw_pos, dec = 0, 0, zlib.decompressobj(31)
        for cp_out, cp_raw, cp_dec in self.checkpoints:
            if cp_out > offset:
                break
            out, raw_pos, dec = cp_out, cp_raw, cp_dec.copy()
        next_cp = out + CHECKPOINT
        name = self.blob.name
        try:
            while raw_pos < self.blob.size:
                data = self.blob.pread(self.fd, raw_pos, min(RAW_PIECE, self.blob.size - raw_pos))
                chunk_end = raw_pos + len(data)
                while data:
                    if dec.eof:
                        if not data.strip(b"\x00"):
                            break
                        dec = zlib.decompressobj(31)
                    piece = dec.decompress(data, CHUNK)
                    data = dec.unused_data if dec.eof else dec.unconsumed_tail
                    raw_pos = chunk_end - len(data)
                    if piece:
                        yield out, piece
                        out += len(piece)
                        self.limits.check(raw_pos, out, name)
                    if out >= next_cp and not dec.eof:
                        if not self.checkpoints or self.checkpoints[-1][0] < out:
                            self.checkpoints.append((out, raw_pos, dec.copy()))
                        next_cp = out + CHECKPOINT
                raw_pos = chunk_end
            while not dec.eof:
                piece = dec.decompress(dec.unconsumed_tail, CHUNK)
                if not piece:
                    break
                yield out, piece
                out += len(piece)
        except zlib.error as exc:
            raise ImageFormatError(f"layer {name} is corrupt: gzip {exc}") from None


def _numbered(chunks: Iterator[bytes], start: int) -> Iterator[tuple[int, bytes]]:
    for chunk in chunks:
        yield start, chunk
        start += len(chunk)
