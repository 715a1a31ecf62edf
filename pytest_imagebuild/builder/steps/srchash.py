"""The source digests docker's builder writes into COPY/ADD history (``file:<hex>``).

Each file is hashed as tarsum v1 does: selected tar header fields (name, mode, uid, gid,
size, type, link target, empty user and group names, device numbers), then the content.
A directory is ``dir:`` + sha256 of its entries' hashes sorted and joined with ``,``;
several sources are ``multi:`` + sha256 of their ``file:``/``dir:`` strings joined with ``,``.
"""

from __future__ import annotations

import hashlib
import stat
from typing import Protocol

__all__ = ["Hasher", "combine", "dir_hash", "entry_hasher", "multi_hash"]


class Hasher(Protocol):
    """What ``entry_hasher`` returns (a ``hashlib`` sha256 object)."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def entry_hasher(
    name: str,
    st_mode: int,
    uid: int,
    gid: int,
    size: int,
    link: str = "",
    *,
    owner_name: str = "",
    type_bits: bool = False,
) -> Hasher:
    """A sha256 primed with the header fields; feed the content, then ``hexdigest()``.

    ``owner_name`` fills uname and gname; ``type_bits`` keeps the file type in ``mode`` (what
    docker's daemon writes for a file it stats itself, such as a download).
    """
    if stat.S_ISDIR(st_mode):
        typeflag, size, name = "5", 0, name.rstrip("/") + "/"
    elif stat.S_ISLNK(st_mode):
        typeflag, size = "2", 0
    elif stat.S_ISREG(st_mode):
        typeflag = "0"
    elif stat.S_ISFIFO(st_mode):
        typeflag, size = "6", 0
    else:
        typeflag, size = "3" if stat.S_ISCHR(st_mode) else "4", 0
    fields = (
        ("name", name),
        ("mode", str(st_mode if type_bits else stat.S_IMODE(st_mode))),
        ("uid", str(uid)),
        ("gid", str(gid)),
        ("size", str(size)),
        ("typeflag", typeflag),
        ("linkname", link),
        ("uname", owner_name),
        ("gname", owner_name),
        ("devmajor", "0"),
        ("devminor", "0"),
    )
    digest = hashlib.sha256()
    for key, value in fields:
        digest.update((key + value).encode("utf-8", "surrogateescape"))
    return digest


def dir_hash(entry_hashes: list[str]) -> str:
    return "dir:" + hashlib.sha256(",".join(sorted(entry_hashes)).encode()).hexdigest()


def multi_hash(source_hashes: list[str]) -> str:
    return "multi:" + hashlib.sha256(",".join(source_hashes).encode()).hexdigest()


def combine(source_hashes: list[str]) -> str:
    return source_hashes[0] if len(source_hashes) == 1 else multi_hash(source_hashes)
