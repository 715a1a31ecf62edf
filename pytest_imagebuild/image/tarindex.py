"""A tar header parser (ustar, GNU long names, PAX) that reads each header once.

It is faster than ``tarfile`` for indexing (no TarInfo objects, no seeks back, no
member data read) and it keeps xattr values as raw bytes. For layers, names are
cleaned into the root and whiteouts become entries of kind "w" (whiteout) or "o"
(opaque directory) while parsing, so each entry is built once.
"""

from __future__ import annotations

from typing import NamedTuple

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.tarreader import ChunkReader, FileReader
from pytest_imagebuild.limits import ArchiveLimits
from pytest_imagebuild.tarcodec import (
    BLOCK,
    META_TYPES,
    TarFormatError,
    parse_number,
    parse_pax,
    verify_checksum,
    xattrs_from_pax,
)

__all__ = ["Member", "clean_path", "iter_members"]

DEFAULT_LIMITS = ArchiveLimits()
ZERO_BLOCK = bytes(BLOCK)
TRAIL = b" \x00"
LINKS = frozenset(b"12")
NUMBERS = ((124, 136), (100, 108), (108, 116), (116, 124), (136, 148))
KINDS = {
    ord("0"): "f",
    0: "f",
    ord("7"): "f",
    ord("1"): "h",
    ord("2"): "l",
    ord("3"): "c",
    ord("4"): "b",
    ord("5"): "d",
    ord("6"): "p",
}
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class Member(NamedTuple):
    """One tar member: name, kind letter, and where its data starts in the stream.

    ``sha256`` is None until a file's digest has been computed (see ``LayerData``)."""

    name: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str
    xattrs: dict[str, bytes] | None
    offset: int
    sha256: str | None


def _text(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def clean_path(name: str, where: str) -> str:
    """Normalize a member name into the root ("" is the root); refuse ".." components."""
    if "//" not in name and "/." not in name and name[:1] not in "./":
        return name.rstrip("/")  # the common case: nothing to clean
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise ImageFormatError(
            f"{where}: member {name!r} has a '..' component that could leave the root"
        )
    return "/".join(parts)


def _layer_entry(name: str, kind: str, where: str) -> tuple[str, str]:
    """A layer member's clean path and kind: whiteouts become "w", opaque markers "o";
    aufs bookkeeping entries get kind ""."""
    path = clean_path(name, where)
    head, _, base = path.rpartition("/")
    if base.startswith(WHITEOUT):
        if base == OPAQUE:
            return head, "o"
        if base.startswith(WHITEOUT + WHITEOUT):
            return path, ""
        return (head + "/" if head else "") + base[len(WHITEOUT) :], "w"
    return path, kind


def iter_members(
    reader: ChunkReader | FileReader,
    layer: bool,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    notes: list[str] | None = None,
) -> list[Member]:
    """Read every header, passing over member data; ``layer`` cleans names (see above).
    Member count, name lengths and extended header sizes are bounded by ``limits``;
    members passed over (GNU volume labels) are described in ``notes``."""
    try:
        return _members(reader, layer, limits, [] if notes is None else notes)
    except TarFormatError as exc:
        at = reader.offset if exc.offset is None else exc.offset
        raise ImageFormatError(f"{reader.name}: {exc.message} (near offset {at})") from None


def _limit(where: str, problem: str | None) -> None:
    if problem is not None:
        raise ImageFormatError(
            f"{where} {problem}",
            hint="layers that tools write stay far below this bound: the archive is damaged "
            "or made to exhaust memory",
        )


def _members(
    reader: ChunkReader | FileReader, layer: bool, limits: ArchiveLimits, notes: list[str]
) -> list[Member]:
    members: list[Member] = []
    most = limits.members
    longest = limits.path // 4  # a name of fewer characters cannot exceed limits.path bytes
    append = members.append
    new = tuple.__new__
    take, skip = reader.take, reader.skip
    pax: dict[str, bytes] = {}
    global_pax: dict[str, bytes] = {}
    long_name: str | None = None
    long_link: str | None = None
    where = reader.name
    while True:
        block = take(BLOCK)
        if len(block) < BLOCK:
            if not block:
                break  # end of stream without the zero blocks: accepted, as docker does
            raise ImageFormatError(f"{where} is truncated: short tar header")
        if block == ZERO_BLOCK:
            reader.drain()
            break
        try:
            stored = int(block[148:156].rstrip(TRAIL), 8)
            size = int(block[124:136].rstrip(TRAIL), 8)
            mode = int(block[100:108].rstrip(TRAIL), 8)
            uid = int(block[108:116].rstrip(TRAIL), 8)
            gid = int(block[116:124].rstrip(TRAIL), 8)
            mtime = int(block[136:148].rstrip(TRAIL), 8)
            verify_checksum(block, stored)
        except ValueError as exc:  # empty, base-256 or oddly padded fields
            if isinstance(exc, TarFormatError):
                raise TarFormatError(exc.message, reader.offset - BLOCK) from None
            verify_checksum(block)
            size, mode, uid, gid, mtime = (parse_number(block[a:b]) for a, b in NUMBERS)
        flag = block[156]
        if flag in META_TYPES:
            if size > limits.record:
                _limit(where, limits.meta(size))
            data = take(size)
            if len(data) < size:
                raise ImageFormatError(f"{where} is truncated: tar data ends early")
            skip(-size % BLOCK)
            if flag == 120 or flag == 88:  # "x", "X"
                pax.update(parse_pax(data))
            elif flag == 103:  # "g": applies to every later member
                global_pax.update(parse_pax(data))
            elif flag == 76:  # "L"
                long_name = _text(data)
            elif flag == 75:  # "K"
                long_link = _text(data)
            continue
        if flag == 86:  # "V": a GNU volume label names the archive, not a file
            label = _text(block[:100])
            notes.append(f"GNU volume label {label!r} passed over (it names no file)")
            skip(size + (-size % BLOCK))
            pax = {}
            long_name = long_link = None
            continue
        if long_name is not None:
            name = long_name
        else:
            end = block.find(0, 0, 100)
            name = block[: end if end >= 0 else 100].decode("utf-8", "surrogateescape")
            if block[345] and block[257:263] == b"ustar\x00":
                name = _text(block[345:500]) + "/" + name
        if long_link is not None:
            link = long_link
        else:
            link = _text(block[157:257]) if flag in LINKS else ""
        xattrs = None
        if global_pax:
            pax = {**global_pax, **pax}
        if pax:
            if any(k.startswith("GNU.sparse") for k in pax):
                raise ImageFormatError(f"{where}: sparse file {name!r} is not supported")
            name = pax["path"].decode("utf-8", "surrogateescape") if "path" in pax else name
            link = pax["linkpath"].decode("utf-8", "surrogateescape") if "linkpath" in pax else link
            try:
                size = int(pax["size"]) if "size" in pax else size
                uid = int(pax["uid"]) if "uid" in pax else uid
                gid = int(pax["gid"]) if "gid" in pax else gid
                mtime = int(float(pax["mtime"])) if "mtime" in pax else mtime
            except (ValueError, OverflowError):
                raise ImageFormatError(f"{where}: member {name!r} has a bad PAX number") from None
            xattrs = xattrs_from_pax(pax) or None
            pax = {}
        long_name = long_link = None
        if len(name) > longest or len(link) > longest:
            _limit(where, limits.name(name))
            _limit(where, limits.name(link, "link target"))
        if len(members) >= most:
            _limit(where, limits.count(len(members) + 1))
        kind = KINDS.get(flag)
        if kind is None:
            raise ImageFormatError(
                f"{where}: member {name!r} has unsupported tar type {chr(flag)!r}"
            )
        if size < 0:
            raise ImageFormatError(f"{where}: member {name!r} has a negative size")
        offset = reader.offset
        skip(size + (-size % BLOCK))
        if kind != "f":
            size = 0
        if layer:
            if WHITEOUT in name:
                name, kind = _layer_entry(name, kind, where)
                if not kind:
                    continue  # aufs bookkeeping entries
            else:
                name = clean_path(name, where)
            if kind == "h":
                link = clean_path(link, where)
        member = (name, kind, mode & 0o7777, uid, gid, size, mtime, link, xattrs, offset, None)
        append(new(Member, member))
    return members
