"""One pass from tar members to a stored blob: diffID, compression and digest together.

The uncompressed tar bytes are hashed (the diffID) and fed to the compressor, whose output
goes to a ``BlobStore`` writer that hashes it again (the blob digest). Nothing holds a layer in
memory: small writes are gathered into one buffer of about a megabyte.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import zstandard
from isal import isal_zlib

from pytest_imagebuild import oci
from pytest_imagebuild.errors import UsageError

from ..blobs import BlobWriter
from .tarformat import REGULAR, Member, build_header, end_of_archive, padding

__all__ = ["COMPRESSIONS", "LayerBlob", "TarStream", "media_type"]

COMPRESSIONS = ("none", "gzip", "zstd")
_FLUSH = 1 << 20
_CHUNK = 1 << 20
_QUEUE = 8


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


@dataclass(frozen=True)
class LayerBlob:
    """A stored layer: ``digest``/``size`` name the blob as stored (maybe compressed)."""

    diff_id: str
    digest: str
    size: int
    compression: str
    media_type: str
    path: Path
    entries: int

    @property
    def compressed(self) -> bool:
        return self.compression != "none"


def media_type(compression: str) -> str:
    """The OCI layer media type for a compression name."""
    return {"none": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}[
        compression
    ]


def make_compressor(compression: str, level: int | None) -> _Compressor | None:
    """``None`` for "none"; gzip levels map onto ISA-L's 0-3 (higher asks are clamped)."""
    if compression == "none":
        return None
    if compression == "gzip":
        gz: Any = isal_zlib.compressobj(
            min(max(level if level is not None else 1, 0), 3), isal_zlib.DEFLATED, 31
        )
        return gz  # type: ignore[no-any-return]
    if compression == "zstd":
        zc: Any = zstandard.ZstdCompressor(level=level if level is not None else 3).compressobj()
        return zc  # type: ignore[no-any-return]
    raise UsageError(f"unknown layer compression {compression!r}", hint="use none, gzip or zstd")


class _Sink:
    """Hashes, compresses and stores chunks on a thread of its own (all of it drops the GIL),
    so reading files and building headers overlap with it."""

    def __init__(self, out: BlobWriter, compressor: _Compressor | None) -> None:
        self._out = out
        self._compressor = compressor
        # An uncompressed layer's diffID is its blob digest: the blob writer hashes it once.
        self._hash = hashlib.sha256() if compressor is not None else None
        self._queue: queue.Queue[bytes | bytearray | None] = queue.Queue(maxsize=_QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="layer-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the producer never blocks
            try:
                self._consume(chunk)
            except BaseException as exc:  # re-raised in the producer by close()
                self._error = exc

    def _consume(self, chunk: bytes | bytearray) -> None:
        if self._compressor is None:
            self._out.write(chunk)  # type: ignore[arg-type]
            return
        if self._hash is not None:
            self._hash.update(chunk)
        packed = self._compressor.compress(chunk)  # type: ignore[arg-type]
        if packed:
            self._out.write(packed)

    def put(self, chunk: bytes | bytearray) -> None:
        if self._error is not None:
            self.close()
        self._queue.put(chunk)

    def close(self) -> str | None:
        """Wait for the thread; the diffID when it is not the blob digest, else None."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
        if self._compressor is not None:
            tail = self._compressor.flush()
            if tail:
                self._out.write(tail)
        return None if self._hash is None else "sha256:" + self._hash.hexdigest()


class TarStream:
    """Writes tar members into a blob writer; ``close()`` returns the diffID (or None when it
    equals the blob digest, which the blob writer knows once it is closed)."""

    def __init__(self, out: BlobWriter, compression: str, level: int | None = None) -> None:
        self._sink = _Sink(out, make_compressor(compression, level))
        self._buf = bytearray()
        self.entries = 0

    def _write(self, data: bytes | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= _FLUSH:
            self._sink.put(self._buf)
            self._buf = bytearray()

    def add(self, member: Member, source: str | None = None) -> None:
        """Add ``member``; a regular file's ``size`` bytes are read from ``source``."""
        self.entries += 1
        self._write(build_header(member))
        if member.type != REGULAR or not member.size:
            return
        if source is None:
            raise ValueError(f"{member.name}: regular file without a source")
        remaining = member.size
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            while remaining:
                data = os.read(fd, min(remaining, _CHUNK))
                if not data:
                    raise OSError(f"{source} shrank while being added to a layer")
                self._write(data)
                remaining -= len(data)
        finally:
            os.close(fd)
        pad = padding(member.size)
        if pad:
            self._write(bytes(pad))

    def close(self) -> str | None:
        self._write(end_of_archive())
        if self._buf:
            self._sink.put(self._buf)
            self._buf = bytearray()
        return self._sink.close()

    def abort(self) -> None:
        """Stop the sink thread after a failure (the blob writer then discards the blob)."""
        with contextlib.suppress(BaseException):  # the original error is what matters
            self._sink.close()
