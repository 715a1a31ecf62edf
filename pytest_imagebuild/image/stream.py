"""Byte streams over blobs: ranges of a file, compression detection, decompression.

Compression is told by magic bytes, never by media type. Decompression is
bounded: every chunk handed out is at most ``CHUNK`` bytes, and a layer whose
output grows past the configured limits is refused as a decompression bomb.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

import zstandard
from isal import isal_zlib

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.limits import ArchiveLimits

__all__ = ["CHUNK", "BlobRef", "Limits", "compression_of", "decompressed_chunks"]

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_PIECE = 4096
GZIP_ERROR = cast("type[Exception]", isal_zlib.error)


@dataclass(frozen=True)
class Limits(ArchiveLimits):
    """The shared archive limits, raising the read side's error."""

    def check(self, raw: int, out: int, name: str) -> None:
        if out > self.floor and out > raw * self.ratio:
            raise ImageFormatError(
                f"layer {name} {self.expansion(raw, out)}",
                hint="raise max_expansion / expansion_floor in Image.open if the image is trusted",
            )


@dataclass(frozen=True)
class BlobRef:
    """A blob stored as ``size`` bytes at ``offset`` in ``path`` (a tar member or a file)."""

    path: str
    offset: int
    size: int
    name: str

    def pread(self, fd: int, offset: int, size: int) -> bytes:
        """Read ``size`` bytes at ``offset`` within the blob, failing on a short read."""
        data = os.pread(fd, size, self.offset + offset)
        if len(data) != size:
            raise ImageFormatError(f"blob {self.name} is truncated")
        return data

    def raw_chunks(self, fd: int, on_chunk: Callable[[bytes], None] | None) -> Iterator[bytes]:
        """Yield the blob's bytes in chunks, passing each to ``on_chunk`` (for hashing)."""
        pos = 0
        while pos < self.size:
            data = os.pread(fd, min(CHUNK, self.size - pos), self.offset + pos)
            if not data:
                raise ImageFormatError(f"blob {self.name} is truncated")
            pos += len(data)
            if on_chunk is not None:
                on_chunk(data)
            yield data


def compression_of(head: bytes) -> str:
    """Return "gzip", "zstd" or "none" from a blob's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def decompressed_chunks(
    raw: Iterator[bytes], compression: str, limits: Limits, name: str
) -> Iterator[bytes]:
    """Yield the uncompressed stream of a blob from its raw chunks."""
    if compression == "none":
        yield from raw
    elif compression == "gzip":
        yield from _gunzip(raw, limits, name)
    else:
        yield from _unzstd(raw, limits, name)


def _gunzip(raw: Iterator[bytes], limits: Limits, name: str) -> Iterator[bytes]:
    dec = isal_zlib.decompressobj(31)
    seen = out = 0
    try:
        for chunk in raw:
            seen += len(chunk)
            data = chunk
            while data:
                if dec.eof:
                    if not data.strip(b"\x00"):
                        break  # zero padding after the last member
                    dec = isal_zlib.decompressobj(31)
                piece = dec.decompress(data, CHUNK)
                data = dec.unused_data if dec.eof else dec.unconsumed_tail
                if piece:
                    out += len(piece)
                    limits.check(seen, out, name)
                    yield piece
        while not dec.eof:  # output still held inside the decompressor
            piece = dec.decompress(dec.unconsumed_tail, CHUNK)
            if not piece:
                break
            out += len(piece)
            limits.check(seen, out, name)
            yield piece
    except GZIP_ERROR as exc:
        raise ImageFormatError(f"layer {name} is corrupt: gzip {exc}") from None
    if not dec.eof:
        raise ImageFormatError(f"layer {name} is truncated: gzip stream ends early")


def _unzstd(raw: Iterator[bytes], limits: Limits, name: str) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    dec = dctx.decompressobj()
    seen = out = 0
    try:
        for chunk in raw:
            seen += len(chunk)
            for start in range(0, len(chunk), ZSTD_PIECE):
                data = chunk[start : start + ZSTD_PIECE]
                while data:
                    if dec.eof:
                        dec = dctx.decompressobj()
                    piece = dec.decompress(data)
                    data = dec.unused_data if dec.eof else b""
                    if piece:
                        out += len(piece)
                        limits.check(seen, out, name)
                        yield piece
    except zstandard.ZstdError as exc:
        raise ImageFormatError(f"layer {name} is corrupt: {exc}") from None
    if not dec.eof:
        raise ImageFormatError(f"layer {name} is truncated: zstd stream ends early")
