"""Open a layer blob as an uncompressed byte stream, whatever its compression.

Compression is detected by magic bytes, never by media type: registries and tarballs lie.
gzip is decompressed by ISA-L in a background thread; zstd by python-zstandard (which releases
the GIL while it works).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import isal.igzip_threaded
import zstandard

from pytest_imagebuild.errors import ImageFormatError

__all__ = ["GZIP_MAGIC", "ZSTD_MAGIC", "Readable", "detect_compression", "open_layer"]

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OTHER = {b"BZh": "bzip2", b"\xfd7zXZ": "xz"}
_gzip_open = cast("Callable[..., Any]", isal.igzip_threaded.open)


class Readable(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...


def detect_compression(head: bytes) -> str:
    """``"gzip"``, ``"zstd"`` or ``"none"`` from a blob's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in _OTHER.items():
        if head.startswith(magic):
            return name
    return "none"


@contextmanager
def open_layer(path: Path) -> Iterator[tuple[Readable, str]]:
    """Yield ``(stream, compression)`` where ``stream`` reads the uncompressed tar."""
    with open(path, "rb", buffering=0) as raw:
        head = raw.read(8)
        raw.seek(0)
        kind = detect_compression(head)
        if kind == "none":
            yield raw, kind
        elif kind == "gzip":
            with _gzip_open(os.fspath(path), "rb", threads=1, block_size=4 << 20) as gz:
                yield gz, kind
        elif kind == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20)
            with reader:
                yield reader, kind
        else:
            raise ImageFormatError(
                f"layer {path.name}: {kind}-compressed layers are not supported",
                hint="layers must be uncompressed, gzip or zstd tar streams",
            )
