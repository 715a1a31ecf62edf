"""A streaming tar reader over one large reusable buffer.

``next()`` returns the next member (PAX and GNU long-name headers already folded in); its data
is then consumed with ``write_to(fd)`` or skipped by the following ``next()``. File data is
written straight from the buffer with ``os.write``: no per-member objects besides ``Member``.
"""

from __future__ import annotations

import os

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.limits import ArchiveLimits
from pytest_imagebuild.tarcodec import (
    BLOCK,
    TarFormatError,
    parse_number,
    parse_pax,
    verify_checksum,
    xattrs_from_pax,
)

from .streams import Readable
from .tarformat import REGULAR, Member, padding, parse_mtime

__all__ = ["TarReader"]

_BUFFER = 4 << 20
_LIMITS = ArchiveLimits()
_META_TYPES = (b"x", b"X", b"g", b"L", b"K")


class TarReader:
    """Reads members one after another from an uncompressed tar stream."""

    def __init__(self, source: Readable, where: str) -> None:
        self._source = source
        self._where = where
        self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._eof = False
        self._pending = 0  # data + padding of the current member not yet consumed
        self._global: dict[str, bytes] = {}
        self.offset = 0  # stream offset of the current member's header
        self._base = 0  # stream offset of the buffer's first byte

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``_start``; False at a clean end of stream."""
        while self._end - self._start < need:
            if self._eof:
                return False
            if self._start:
                remaining = self._end - self._start
                self._buf[:remaining] = self._view[self._start : self._end]
                self._base += self._start
                self._start, self._end = 0, remaining
            got = self._source.readinto(self._view[self._end :])
            if not got:
                self._eof = True
            else:
                self._end += got
        return True

    def _skip(self, count: int) -> None:
        while count:
            if self._start == self._end and not self._fill(1):
                raise ImageFormatError(f"{self._where}: truncated tar stream")
            step = min(count, self._end - self._start)
            self._start += step
            count -= step

    def _read(self, count: int) -> bytes:
        if count > self._buf.__len__() - BLOCK:
            parts = []
            while count:
                if not self._fill(1):
                    raise ImageFormatError(f"{self._where}: truncated tar stream")
                step = min(count, self._end - self._start)
                parts.append(bytes(self._view[self._start : self._start + step]))
                self._start += step
                count -= step
            return b"".join(parts)
        if not self._fill(count):
            raise ImageFormatError(f"{self._where}: truncated tar stream")
        data = bytes(self._view[self._start : self._start + count])
        self._start += count
        return data

    def next(self) -> Member | None:
        """The next member, or None at the end of the archive."""
        try:
            return self._next()
        except TarFormatError as exc:
            at = self.offset if exc.offset is None else exc.offset
            raise ImageFormatError(f"{self._where}: {exc.message} (near offset {at})") from None

    def _next(self) -> Member | None:
        if self._pending:
            self._skip(self._pending)
            self._pending = 0
        pax: dict[str, bytes] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            if not self._fill(BLOCK):
                if self._end == self._start:
                    return None  # no end-of-archive blocks: tolerated, as docker does
                raise ImageFormatError(f"{self._where}: truncated tar header")
            header = self._view[self._start : self._start + BLOCK].tobytes()
            self.offset = self._base + self._start
            self._start += BLOCK
            if header[0] == 0 and not header.strip(b"\0"):
                return None
            verify_checksum(header)
            typeflag = header[156:157]
            size = parse_number(header[124:136])
            if size < 0:
                raise TarFormatError("negative member size")
            if typeflag in _META_TYPES:
                problem = _LIMITS.meta(size)  # the record is held in memory
                if problem is not None:
                    raise ImageFormatError(f"{self._where} {problem}")
                data = self._read(size)
                self._skip(padding(size))
                if typeflag == b"x" or typeflag == b"X":
                    pax.update(parse_pax(data))
                elif typeflag == b"g":
                    self._global.update(parse_pax(data))
                elif typeflag == b"L":
                    longname = data.rstrip(b"\0")
                else:
                    longlink = data.rstrip(b"\0")
                continue
            try:
                return self._member(header, typeflag, size, pax, longname, longlink)
            except TarFormatError:
                raise
            except (ValueError, OverflowError) as exc:
                raise TarFormatError(f"malformed tar header ({exc})") from None

    def _member(
        self,
        header: bytes,
        typeflag: bytes,
        size: int,
        pax: dict[str, bytes],
        longname: bytes | None,
        longlink: bytes | None,
    ) -> Member:
        if self._global:
            pax = {**self._global, **pax}
        if longname is not None:
            raw_name = longname
        elif "path" in pax:
            raw_name = pax["path"]
        else:
            raw_name = header[0:100].split(b"\0", 1)[0]
            if header[257:263] == b"ustar\x00" and header[345]:
                raw_name = header[345:500].split(b"\0", 1)[0] + b"/" + raw_name
        if longlink is not None:
            raw_link = longlink
        elif "linkpath" in pax:
            raw_link = pax["linkpath"]
        else:
            raw_link = header[157:257].split(b"\0", 1)[0]
        if typeflag in (b"\0", b"7"):
            typeflag = REGULAR
        if typeflag == b"S" or "GNU.sparse.major" in pax or "GNU.sparse.size" in pax:
            raise ImageFormatError(f"{self._where}: sparse member {raw_name!r} is not supported")
        member = Member(
            name=raw_name.decode("utf-8", "surrogateescape"),
            type=typeflag,
            mode=parse_number(header[100:108]) & 0o7777,
            uid=int(pax["uid"]) if "uid" in pax else parse_number(header[108:116]),
            gid=int(pax["gid"]) if "gid" in pax else parse_number(header[116:124]),
            size=int(pax["size"]) if "size" in pax else size,
            mtime=parse_number(header[136:148]),
            linkname=raw_link.decode("utf-8", "surrogateescape"),
        )
        if typeflag == b"3" or typeflag == b"4":
            member.devmajor = parse_number(header[329:337])
            member.devminor = parse_number(header[337:345])
        if pax:
            if "mtime" in pax:
                member.mtime, member.mtime_nsec = parse_mtime(pax["mtime"])
            member.xattrs.update(xattrs_from_pax(pax))
        if typeflag != REGULAR:
            member.size = 0
        self._pending = member.size + padding(member.size)
        return member

    def read_data(self, size: int) -> bytes:
        """The current member's ``size`` data bytes, as one bytes object."""
        data = self._read(size)
        self._pending -= size
        return data

    def write_to(self, fd: int, size: int) -> None:
        """Write the current member's ``size`` data bytes to ``fd``."""
        view = self._view
        while size:
            if self._start == self._end and not self._fill(1):
                raise ImageFormatError(f"{self._where}: truncated tar stream")
            step = min(size, self._end - self._start)
            written = os.write(fd, view[self._start : self._start + step])
            self._start += written
            size -= written
            self._pending -= written
