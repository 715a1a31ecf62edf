"""On-disk cache of layer indexes, keyed by the layer's verified blob digest.

A file holds plain data only (no ``marshal`` or ``pickle``, so a planted file cannot
run code): a magic line with the format version, the SHA-256 of the rest, then
length-prefixed sections: a small JSON header and the members in columns (names,
kinds and link targets as joined text, numbers as 64-bit arrays, xattrs and file
digests beside them). Each file also records where the indexed blob was seen
(device, inode, size, mtime, ctime, offset of the file holding it): a blob found
at a recorded place is trusted, any other is hashed again before the index is used
(see ``LayerIndexer``). Files are written under a temporary name and renamed; a
file that does not decode, whose checksum, key, version or blob size differ is
ignored and rewritten.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import time
from array import array
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple, cast

from pytest_imagebuild.image.tarindex import Member

__all__ = ["Indexed", "Place", "load_index", "place_of", "store_index"]

MAGIC = b"pytest-imagebuild layer index 3\n"
SECTIONS = 6  # header, names, kinds, links, numbers, digests
NUMBER_FIELDS = (2, 3, 4, 5, 6, 9)  # mode, uid, gid, size, mtime, data offset
LENGTH = struct.Struct("<Q")
MAX_PLACES = 8
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
RACY_NS = 2_000_000_000  # a file changed this recently may still change unseen


class Place(NamedTuple):
    """Where a blob was read: the holding file's identity and the blob's offset in it."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    offset: int


class Indexed(NamedTuple):
    """A layer's index: compression, diff_id, blob digest, members (clean paths) and
    the places the blob was verified at."""

    compression: str
    diff_id: str
    digest: str
    members: list[Member]
    places: tuple[Place, ...]
    notes: tuple[str, ...] = ()  # members passed over, as Image.warnings says them


def place_of(fd: int, offset: int) -> Place:
    st = os.fstat(fd)
    return Place(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, offset)


def _file(cache: Path, digest: str) -> Path:
    if DIGEST.fullmatch(digest) is None:  # a config's diff_id is not checked yet
        raise ValueError(f"not a digest: {digest!r}")
    return cache / (digest.replace(":", "-") + ".idx")


def _split(body: bytes) -> list[bytes]:
    parts: list[bytes] = []
    pos = 0
    for _ in range(SECTIONS):
        (length,) = LENGTH.unpack_from(body, pos)
        pos += LENGTH.size
        if pos + length > len(body):
            raise ValueError("section past the end")
        parts.append(body[pos : pos + length])
        pos += length
    if pos != len(body):
        raise ValueError("trailing bytes")
    return parts


def _decode(data: bytes, key: str, size: int) -> Indexed | None:
    if not data.startswith(MAGIC):
        return None
    checksum, body = data[len(MAGIC) : len(MAGIC) + 32], data[len(MAGIC) + 32 :]
    if hashlib.sha256(body).digest() != checksum:
        return None
    head_raw, names_raw, kinds_raw, links_raw, numbers_raw, digests_raw = _split(body)
    head: dict[str, Any] = json.loads(head_raw)
    if head["key"] != key or head["size"] != size or head["byteorder"] != sys.byteorder:
        return None
    count: int = head["count"]
    names = names_raw.decode("utf-8", "surrogateescape").split("\0") if count else []
    kinds = kinds_raw.decode("ascii")
    links = links_raw.decode("utf-8", "surrogateescape").split("\0") if count else []
    numbers = array("q")
    numbers.frombytes(numbers_raw)
    if not len(names) == len(kinds) == len(links) == count or len(numbers) != 6 * count:
        return None
    cols = [numbers[i * count : (i + 1) * count].tolist() for i in range(6)]
    nothing: list[Any] = [None] * count
    digests: list[str | None] = nothing
    if digests_raw:
        digests = [d or None for d in digests_raw.decode("ascii").split("\0")]
        if len(digests) != count:
            return None
    xattrs: list[dict[str, bytes] | None] = list(nothing) if head["xattrs"] else nothing
    for row, values in head["xattrs"]:
        xattrs[row] = {name: base64.b64decode(value) for name, value in values.items()}
    rows = zip(names, kinds, *cols[:5], links, xattrs, cols[5], digests, strict=True)
    members: list[Member] = list(map(tuple.__new__, repeat(Member), rows))  # loops in C
    places = tuple(Place(*map(int, p)) for p in head["places"])
    notes = tuple(str(note) for note in head.get("notes", ()))
    return Indexed(head["compression"], head["diff_id"], head["digest"], members, places, notes)


def load_index(cache: Path, key: str, size: int) -> Indexed | None:
    """The index stored under ``key`` for a blob of ``size`` bytes, if a valid one is there."""
    try:
        return _decode(_file(cache, key).read_bytes(), key, size)
    except (OSError, ValueError, TypeError, KeyError, IndexError, RecursionError, struct.error):
        return None


def _encode(key: str, size: int, index: Indexed) -> bytes:
    members = index.members
    xattrs = [
        [row, {name: base64.b64encode(value).decode("ascii") for name, value in m.xattrs.items()}]
        for row, m in enumerate(members)
        if m.xattrs
    ]
    head = {
        "key": key,
        "size": size,
        "byteorder": sys.byteorder,
        "count": len(members),
        "compression": index.compression,
        "diff_id": index.diff_id,
        "digest": index.digest,
        "places": [list(p) for p in index.places],
        "xattrs": xattrs,
        "notes": list(index.notes),
    }
    numbers = array("q")
    for field in NUMBER_FIELDS:
        numbers.extend(cast("int", m[field]) for m in members)  # OverflowError past 64 bits
    digests = b""
    if any(m.sha256 for m in members):
        digests = "\0".join(m.sha256 or "" for m in members).encode("ascii")
    sections = [
        json.dumps(head, separators=(",", ":")).encode("ascii"),
        "\0".join(m.name for m in members).encode("utf-8", "surrogateescape"),
        "".join(m.kind for m in members).encode("ascii"),
        "\0".join(m.link for m in members).encode("utf-8", "surrogateescape"),
        numbers.tobytes(),
        digests,
    ]
    body = b"".join(LENGTH.pack(len(s)) + s for s in sections)
    return MAGIC + hashlib.sha256(body).digest() + body


def settled(place: Place) -> bool:
    """Whether the holding file last changed long enough ago that a later change of
    the same size would show in its mtime or ctime (timestamps are coarse)."""
    return max(place.mtime_ns, place.ctime_ns) + RACY_NS < time.time_ns()


def store_index(cache: Path, key: str, size: int, index: Indexed) -> None:
    """Write the (verified) index under ``key``; failures to write are ignored, as are
    indexes holding numbers past 64 bits or names that cannot be joined."""
    places = tuple(p for p in index.places if settled(p))[-MAX_PLACES:]
    try:
        if any("\0" in m.name or "\0" in m.link for m in index.members):
            return
        data = _encode(key, size, index._replace(places=places))
    except (OverflowError, UnicodeError):
        return
    tmp = ""
    try:
        target = _file(cache, key)
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".idx-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except (OSError, ValueError):
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
