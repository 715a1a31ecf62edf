"""Write layers: from a snapshot's changes, or from a list of entries a COPY already knows.

Layout follows what Docker's legacy builder emits: entries in directory-walk order, every
parent directory of a changed path included, the first path of an inode carries the content
and later ones are hardlinks to it, whiteouts ``.wh.<name>`` sit where ``<name>`` would sort,
an opaque marker follows its directory, owners numeric with empty names, mtimes in whole
seconds, only the ``security.capability`` xattr kept, sockets left out.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..blobs import BlobStore
from . import owners
from .snapshot import Changes
from .tarformat import BLOCKDEV, CHAR, DIRECTORY, FIFO, HARDLINK, REGULAR, SYMLINK, Member
from .tarstream import LayerBlob, TarStream, media_type
from .unpack import OPAQUE, WHITEOUT

__all__ = ["Entry", "LayerBlob", "member_from_stat", "write_layer", "write_layer_from_entries"]

CAPABILITY = "security.capability"


@dataclass(frozen=True)
class Entry:
    """One path of a layer built without a walk: ``member`` plus where its bytes live."""

    member: Member
    source: str | None = None  # host path of a regular file's content (and inode identity)

    @classmethod
    def from_host(
        cls,
        source: Path,
        dest: str,
        *,
        uid: int | None = None,
        gid: int | None = None,
        mode: int | None = None,
        mtime: int | None = None,
    ) -> Entry:
        """An entry for ``dest`` in the image holding host file ``source`` (not followed)."""
        member = member_from_stat(
            _clean(dest), os.fspath(source), os.lstat(source), with_xattrs=True
        )
        if uid is not None:
            member.uid = uid
        if gid is not None:
            member.gid = gid
        if mode is not None:
            member.mode = mode & 0o7777
        if mtime is not None:
            member.mtime = mtime
        return cls(member, os.fspath(source))


def _clean(path: str) -> str:
    return "/".join(p for p in path.split("/") if p and p != ".")


def _sort_key(path: str) -> list[str]:
    """Directory-walk order; a whiteout sorts where the name it hides would."""
    parts = path.split("/")
    leaf = parts[-1]
    if leaf.startswith(WHITEOUT) and leaf != OPAQUE:
        parts[-1] = leaf[len(WHITEOUT) :] + "\0"
    return parts


def member_from_stat(
    name: str, host: str, st: os.stat_result, *, with_xattrs: bool = True
) -> Member:
    """The tar member for a path with ``lstat`` result ``st`` (no hardlink detection)."""
    fmt = stat.S_IFMT(st.st_mode)
    uid, gid = owners.owner(host, st)
    member = Member(
        name=name,
        type=REGULAR,
        mode=stat.S_IMODE(st.st_mode),
        uid=uid,
        gid=gid,
        mtime=int(st.st_mtime),
    )
    if fmt == stat.S_IFREG:
        member.size = st.st_size
        if with_xattrs:
            try:
                member.xattrs[CAPABILITY] = os.getxattr(host, CAPABILITY, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
    elif fmt == stat.S_IFDIR:
        member.type = DIRECTORY
    elif fmt == stat.S_IFLNK:
        member.type = SYMLINK
        member.linkname = os.readlink(host)
    elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
        member.type = CHAR if fmt == stat.S_IFCHR else BLOCKDEV
        member.devmajor, member.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif fmt == stat.S_IFIFO:
        member.type = FIFO
    else:
        raise ValueError(f"{name}: sockets do not go into layers")
    return member


def _marker(name: str, mode: int, uid: int, gid: int) -> Member:
    return Member(name=name, type=REGULAR, mode=mode, uid=uid, gid=gid, mtime=0)


class _Layer:
    """Collects members, dedupes by name, links repeated inodes, writes in walk order."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[Member, str | None, tuple[int, int] | None]] = {}

    def put(self, member: Member, source: str | None, st: os.stat_result | None) -> None:
        inode = (st.st_dev, st.st_ino) if st is not None and st.st_nlink > 1 else None
        self.items[member.name] = (member, source, inode)

    def _add_all(self, tar: TarStream) -> None:
        first: dict[tuple[int, int], str] = {}
        for name in sorted(self.items, key=_sort_key):
            member, source, inode = self.items[name]
            if inode is not None and member.type == REGULAR:
                if inode in first:
                    member.type, member.linkname, member.size = HARDLINK, first[inode], 0
                    member.xattrs = {}
                else:
                    first[inode] = name
            tar.add(member, source)

    def write(
        self, store: BlobStore, compression: str, level: int | None, clamp: int | None = None
    ) -> LayerBlob:
        if clamp is not None:  # SOURCE_DATE_EPOCH: no file time after it
            for member, _, _ in self.items.values():
                member.mtime = min(member.mtime, clamp)
        with store.writer() as out:
            tar = TarStream(out, compression, level)
            try:
                self._add_all(tar)
            except BaseException:
                tar.abort()
                raise
            diff_id = tar.close()
        return LayerBlob(
            diff_id=diff_id or out.digest,
            digest=out.digest,
            size=out.size,
            compression=compression,
            media_type=media_type(compression),
            path=store.path(out.digest),
            entries=tar.entries,
        )


def write_layer(
    root: Path,
    changes: Changes,
    store: BlobStore,
    *,
    compression: str = "none",
    level: int | None = None,
    clamp: int | None = None,
) -> LayerBlob:
    """Write the layer for ``changes`` (from a snapshot of ``root``) into ``store``; with
    ``clamp``, file times after it are written as ``clamp`` (``SOURCE_DATE_EPOCH``)."""
    top = os.fspath(root)
    layer = _Layer()
    wanted = set(changes.changed)
    for path in changes.changed + changes.deleted:
        parts = path.split("/")
        wanted.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for path in wanted:
        host = f"{top}/{path}"
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            continue  # gone since the snapshot
        if stat.S_ISSOCK(st.st_mode):
            continue
        layer.put(member_from_stat(path, host, st), host, st)
    for path in changes.deleted:
        parent, _, leaf = path.rpartition("/")
        name = f"{parent}/{WHITEOUT}{leaf}" if parent else WHITEOUT + leaf
        layer.put(_marker(name, 0o600, 0, 0), None, None)
    for path in changes.opaque:
        dir_member = layer.items[path][0] if path in layer.items else None
        mode, uid, gid = (
            (dir_member.mode & 0o777, dir_member.uid, dir_member.gid)
            if dir_member
            else (0o755, 0, 0)
        )
        layer.put(_marker(f"{path}/{OPAQUE}", mode, uid, gid), None, None)
    return layer.write(store, compression, level, clamp)


def write_layer_from_entries(
    entries: Iterable[Entry],
    store: BlobStore,
    *,
    parents_from: Path | None = None,
    compression: str = "none",
    level: int | None = None,
) -> LayerBlob:
    """A layer holding exactly ``entries`` (plus parent directories), without any walk.

    Parent directories not given as entries are taken from ``parents_from`` (the stage root
    after the step) when it has them, else written as root-owned 0755 directories.
    """
    layer = _Layer()
    for entry in entries:
        member = entry.member
        st = os.lstat(entry.source) if entry.source and member.type == REGULAR else None
        layer.put(member, entry.source, st)
    for name in list(layer.items):
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in layer.items:
                continue
            member = Member(name=parent, type=DIRECTORY, mode=0o755)
            if parents_from is not None:
                host = f"{os.fspath(parents_from)}/{parent}"
                try:
                    st = os.lstat(host)
                except FileNotFoundError:
                    st = None
                if st is not None and not stat.S_ISDIR(st.st_mode):
                    raise ValueError(
                        f"{parent!r} is not a directory in the stage root: resolve layer "
                        "destinations with paths.resolve_in_root() first"
                    )
                if st is not None:
                    member = member_from_stat(parent, host, st, with_xattrs=False)
            layer.put(member, None, None)
    return layer.write(store, compression, level)
