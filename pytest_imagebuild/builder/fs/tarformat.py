"""Tar headers: parsing (ustar, GNU long names, PAX) and writing (ustar plus PAX records).

Kept small and allocation-light because every layer byte goes through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_imagebuild.tarcodec import BLOCK, parse_number

__all__ = [
    "BLOCK",
    "BLOCKDEV",
    "CHAR",
    "DIRECTORY",
    "FIFO",
    "HARDLINK",
    "REGULAR",
    "SYMLINK",
    "Member",
    "build_header",
    "padding",
    "parse_number",
]

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHAR = b"3"
BLOCKDEV = b"4"
DIRECTORY = b"5"
FIFO = b"6"
_ZERO_BLOCK = bytes(BLOCK)


@dataclass(slots=True)
class Member:
    """One tar entry as read from or written to a layer."""

    name: str
    type: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    mtime_nsec: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def parse_mtime(value: bytes) -> tuple[int, int]:
    """A PAX ``mtime`` record as (seconds, nanoseconds)."""
    whole, _, frac = value.partition(b".")
    seconds = int(whole)
    nsec = int((frac[:9] or b"0").ljust(9, b"0")) if frac.isdigit() else 0
    return seconds, (-nsec if seconds < 0 else nsec)


def padding(size: int) -> int:
    """Bytes of zero padding after ``size`` bytes of data."""
    return -size & (BLOCK - 1)


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def _raw_header(
    name: bytes,
    typeflag: bytes,
    numbers: tuple[int, int, int, int, int],
    linkname: bytes = b"",
    dev: tuple[int, int] | None = None,
) -> bytes:
    """One ustar block; ``numbers`` = (mode, uid, gid, size, mtime)."""
    devices = b"%07o\0%07o\0" % dev if dev is not None else _NO_DEV
    block = b"".join(
        (
            name.ljust(100, b"\0"),
            b"%07o\0%07o\0%07o\0%011o\0%011o\0" % numbers,
            b"        ",
            typeflag,
            linkname.ljust(100, b"\0"),
            b"ustar\x0000",
            _NO_NAMES,
            devices,
            _TAIL,
        )
    )
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


_NO_DEV = bytes(16)
_NO_NAMES = bytes(64)
_TAIL = bytes(167)


def build_header(member: Member) -> bytes:
    """Header block(s) for ``member``: ustar, preceded by a PAX header when a field needs it."""
    name = member.name.encode("utf-8", "surrogateescape")
    if member.type == DIRECTORY and not name.endswith(b"/"):
        name += b"/"
    linkname = member.linkname.encode("utf-8", "surrogateescape")
    size = member.size if member.type == REGULAR else 0
    records: list[bytes] = []
    if len(name) > 100 or not name.isascii():
        records.append(_pax_record("path", name))
        name = name[:99].decode("ascii", "replace").encode("ascii", "replace")
    if len(linkname) > 100 or not linkname.isascii():
        records.append(_pax_record("linkpath", linkname))
        linkname = b""
    if member.uid >= 0o7777777:
        records.append(_pax_record("uid", str(member.uid).encode()))
    if member.gid >= 0o7777777:
        records.append(_pax_record("gid", str(member.gid).encode()))
    if size >= 0o77777777777:
        records.append(_pax_record("size", str(size).encode()))
    if member.xattrs:
        for key in sorted(member.xattrs):
            records.append(_pax_record("SCHILY.xattr." + key, member.xattrs[key]))
    numbers = (
        member.mode & 0o7777,
        min(member.uid, 0o7777777),
        min(member.gid, 0o7777777),
        min(size, 0o77777777777),
        min(max(member.mtime, 0), 0o77777777777),
    )
    dev = (member.devmajor, member.devminor) if member.type in (CHAR, BLOCKDEV) else None
    main = _raw_header(name, member.type, numbers, linkname, dev)
    if not records:
        return main
    data = b"".join(records)
    pax_name = b"PaxHeaders/" + name.rstrip(b"/")[-80:]
    pax = _raw_header(pax_name, b"x", (0o644, 0, 0, len(data), numbers[4]))
    return pax + data + bytes(padding(len(data))) + main


def end_of_archive() -> bytes:
    return _ZERO_BLOCK * 2
