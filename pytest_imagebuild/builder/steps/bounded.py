"""An ADD archive's uncompressed tar stream, read under the shared archive limits.

The compressed bytes read from the file and the bytes handed to ``tarfile`` are
counted; once the output passes the limits' floor and ratio, reading stops with
``ArchiveLimitError`` (nothing more is decompressed, so memory and disk stay
bounded). gzip, bzip2 and xz are the compressions ADD unpacks, as in docker.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, Protocol, cast

from isal import igzip, isal_zlib

from pytest_imagebuild.limits import ArchiveLimits

_igzip_file = cast("Callable[..., _Reader]", igzip.IGzipFile)
GZIP_ERROR = cast("type[Exception]", isal_zlib.error)

__all__ = ["ArchiveLimitError", "BoundedArchive", "CorruptArchive"]

_DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError, GZIP_ERROR)


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ArchiveLimitError(Exception):
    """The archive passed one of the limits (the message says which)."""


class CorruptArchive(Exception):
    """The compressed stream is damaged or truncated."""


class _Counted(io.RawIOBase):
    """The archive file's bytes, counted."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0


class BoundedArchive(io.RawIOBase):
    """The uncompressed tar stream of the archive at ``path`` (a context manager)."""

    def __init__(self, path: str, name: str, limits: ArchiveLimits) -> None:
        self.name = name
        self.limits = limits
        self.file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.counted = _Counted(self.file)
        head = self.file.read(6)
        self.file.seek(0)
        source = cast("BinaryIO", self.counted)
        self.inner: _Reader = self.counted
        if head.startswith(b"\x1f\x8b"):
            self.inner = _igzip_file(fileobj=source, mode="rb")  # ISA-L: 5-10x zlib
        elif head.startswith(b"BZh"):
            self.inner = bz2.BZ2File(source)
        elif head.startswith(b"\xfd7zXZ\x00"):
            self.inner = lzma.LZMAFile(source)  # noqa: SIM115 - closed by close()
        self.out = 0

    def __enter__(self) -> BoundedArchive:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.inner.close()
        except _DECOMPRESSION_ERRORS:
            pass
        finally:
            self.file.close()
            super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), 1 << 20)
        try:
            data = self.inner.read(want)
        except _DECOMPRESSION_ERRORS as exc:
            raise CorruptArchive(f"the compressed stream is damaged ({exc})") from None
        n = len(data)
        buffer[:n] = data
        self.out += n
        problem = self.limits.expansion(self.counted.count, self.out)
        if problem is not None:
            raise ArchiveLimitError(problem)
        return n

    def check_member(self, count: int, name: str, link: str) -> None:
        """Refuse the ``count``-th member past the member limit or with an over-long name."""
        problem = (
            self.limits.count(count)
            or self.limits.name(name)
            or (self.limits.name(link, "link target") if link else None)
        )
        if problem is not None:
            raise ArchiveLimitError(problem)
