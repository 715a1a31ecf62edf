"""rpm's database: the sqlite rpmdb of rpm 4.16 and later, header blobs parsed here.

Each row of the ``Packages`` table holds one package header as rpm stores it: two
big-endian counts (index entries, data bytes), 16-byte index entries (tag, type, offset,
count), then the data. The few tags read here are strings and one integer, so no rpm
library is needed (the maintained one, rpm's own binding, needs librpm and a system
Python). The older Berkeley DB (``Packages``) and ndb (``Packages.db``) formats are
refused with an error naming the file.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pytest_imagebuild.errors import ImageFormatError, Location
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.dbfile import MAX_DB_BYTES
from pytest_imagebuild.packages.model import Package

__all__ = ["parse_header", "read_rpm"]

DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
OLD_FORMATS = {"Packages": "Berkeley DB", "Packages.db": "ndb"}
NAME, VERSION, RELEASE, EPOCH, LICENSE, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1014, 1022, 1044
STRING_TYPES = {6, 8, 9}  # STRING, STRING_ARRAY (first item), I18NSTRING (first locale)
INT32 = 4
MAX_ENTRIES = 0xFFFF  # rpm's own limit on a header's index


def parse_header(blob: bytes, where: str) -> dict[int, str]:
    """The string (and EPOCH) tags of one stored header, by tag number."""
    if len(blob) < 8:
        raise ImageFormatError(f"{where}: header of {len(blob)} bytes is truncated")
    entries, size = struct.unpack_from(">II", blob)
    start = 8 + 16 * entries
    if entries > MAX_ENTRIES or start + size > len(blob):
        raise ImageFormatError(f"{where}: header claims {entries} entries and {size} data bytes")
    data = blob[start : start + size]
    tags: dict[int, str] = {}
    for i in range(entries):
        tag, kind, offset, count = struct.unpack_from(">IIiI", blob, 8 + 16 * i)
        if tag not in (NAME, VERSION, RELEASE, EPOCH, LICENSE, ARCH, SOURCERPM) or count == 0:
            continue
        if not 0 <= offset < size:
            raise ImageFormatError(f"{where}: tag {tag} points outside the header data")
        if kind == INT32 and offset + 4 <= size:
            tags[tag] = str(struct.unpack_from(">I", data, offset)[0])
        elif kind in STRING_TYPES:
            end = data.find(b"\0", offset)
            if end < 0:
                raise ImageFormatError(f"{where}: tag {tag} has an unterminated string")
            tags[tag] = data[offset:end].decode("utf-8", "replace")
    return tags


def _package(tags: dict[int, str], path: str) -> Package | None:
    name, version = tags.get(NAME), tags.get(VERSION)
    if not name or version is None:
        return None
    release = tags.get(RELEASE)
    full = f"{version}-{release}" if release else version
    if tags.get(EPOCH):
        full = f"{tags[EPOCH]}:{full}"
    return Package(
        name=name,
        version=full,
        ecosystem="rpm",
        path=path,
        arch=tags.get(ARCH),
        source=tags.get(SOURCERPM),
        license=tags.get(LICENSE),
    )


def _bytes(image: Image, path: str) -> bytes | None:
    file = image.file(path, follow_symlinks=True)
    if not file.exists or not file.is_file:
        return None
    if file.size > MAX_DB_BYTES:
        raise ImageFormatError(
            f"package database {path} is {file.size} bytes, over the {MAX_DB_BYTES} byte limit"
        )
    return file.read_bytes()


def _rows(database: bytes, wal: bytes | None) -> list[tuple[int, bytes]]:
    query = "SELECT hnum, blob FROM Packages ORDER BY hnum"
    if wal:
        # Changes still in the write-ahead log: sqlite replays it only from files, so the
        # two go to a private temporary directory for the read.
        with tempfile.TemporaryDirectory(prefix="imagebuild-rpmdb-") as where:
            (Path(where) / "rpmdb.sqlite").write_bytes(database)
            (Path(where) / "rpmdb.sqlite-wal").write_bytes(wal)
            conn = sqlite3.connect(Path(where) / "rpmdb.sqlite")
            try:
                return list(conn.execute(query))
            finally:
                conn.close()
    memory = bytearray(database)
    if memory[18:20] == b"\x02\x02":
        memory[18:20] = b"\x01\x01"  # WAL mode, empty log: read it as a rollback journal db
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(memory))
        return list(conn.execute(query))
    finally:
        conn.close()


def _read(image: Image, path: str, database: bytes) -> Iterator[Package]:
    try:
        rows = _rows(database, _bytes(image, path + "-wal"))
    except sqlite3.Error as exc:
        raise ImageFormatError(
            f"not a readable rpm sqlite database: {exc}", location=Location(path)
        ) from None
    for hnum, blob in rows:
        if not isinstance(blob, bytes):
            raise ImageFormatError(f"row {hnum} holds no header", location=Location(path))
        package = _package(parse_header(blob, f"{path} row {hnum}"), path)
        if package is not None:
            yield package


def read_rpm(image: Image) -> list[Package]:
    for directory in DIRS:
        path = f"{directory}/rpmdb.sqlite"
        database = _bytes(image, path)
        if database is not None:
            return list(_read(image, path, database))
    for directory in DIRS:
        for name, kind in OLD_FORMATS.items():
            path = f"{directory}/{name}"
            if image.file(path, follow_symlinks=True).is_file:
                raise ImageFormatError(
                    f"rpm database in the {kind} format, which is not read",
                    location=Location(path),
                    hint="rpm 4.16 and later keep rpmdb.sqlite; run 'rpmdb --rebuilddb' "
                    "with the sqlite backend in the image to convert it",
                )
    return []
