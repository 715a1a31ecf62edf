"""Listings that compare a directory tree with a tar stream (helpers for the fs tests)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

# type, mode, uid, gid, size, sha/link/dev, capability, mtime (non-directories; else 0)
Row = tuple[str, int, int, int, int, str, str, int]
CAP = "security.capability"
# v2 capability blob for cap_net_bind_service=ep
CAP_NET_BIND = bytes.fromhex("0100000200040000000000000000000000000000")


def _cap_of_path(path: str) -> str:
    try:
        return os.getxattr(path, CAP, follow_symlinks=False).hex()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            return ""
        raise


def tree_listing(root: Path, *, skip: tuple[str, ...] = (), mtimes: bool = False) -> dict[str, Row]:
    """path -> (type, mode, uid, gid, size, sha256 or link target or dev, capability)."""
    rows: dict[str, Row] = {}
    top = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, top)
            if rel.split("/")[0] in skip or rel in skip:
                continue
            st = os.lstat(full)
            kind = stat.S_IFMT(st.st_mode)
            extra = ""
            size = 0
            if kind == stat.S_IFREG:
                size = st.st_size
                extra = hashlib.sha256(Path(full).read_bytes()).hexdigest()
            elif kind == stat.S_IFLNK:
                extra = os.readlink(full)
            elif kind in (stat.S_IFCHR, stat.S_IFBLK):
                extra = f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
            rows[rel] = (
                _TYPES[kind],
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                size,
                extra,
                _cap_of_path(full) if kind == stat.S_IFREG else "",
                int(st.st_mtime) if mtimes and kind != stat.S_IFDIR else 0,
            )
    return rows


_TYPES = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFCHR: "char",
    stat.S_IFBLK: "block",
    stat.S_IFIFO: "fifo",
}


def tar_listing(
    data: bytes | Path, *, skip: tuple[str, ...] = (), mtimes: bool = False
) -> dict[str, Row]:
    """The same rows for a (merged, whiteout-free) tar such as ``docker export`` output."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    rows: dict[str, Row] = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for info in tar:
            rel = os.path.normpath(info.name.lstrip("/")) if info.name.strip("./") else "."
            if rel == "." or rel.split("/")[0] in skip or rel in skip:
                continue
            cap = info.pax_headers.get("SCHILY.xattr." + CAP, "")
            cap_hex = cap.encode("utf-8", "surrogateescape").hex() if cap else ""
            if info.islnk():
                target = rows[os.path.normpath(info.linkname.lstrip("/"))]
                rows[rel] = target
                continue
            kind, extra, size = "file", "", 0
            if info.isfile():
                size = info.size
                fh = tar.extractfile(info)
                extra = hashlib.sha256(fh.read() if fh else b"").hexdigest()
            elif info.isdir():
                kind = "dir"
            elif info.issym():
                kind, extra = "symlink", info.linkname
            elif info.ischr() or info.isblk():
                kind = "char" if info.ischr() else "block"
                extra = f"{info.devmajor},{info.devminor}"
            elif info.isfifo():
                kind = "fifo"
            mtime = int(info.mtime) if mtimes and kind != "dir" else 0
            rows[rel] = (kind, info.mode & 0o7777, info.uid, info.gid, size, extra, cap_hex, mtime)
    return rows


def make_tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A tar stream from (TarInfo, data) pairs, PAX format."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    item = tarfile.TarInfo(name)
    item.type = kind
    item.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    item.mtime = 1_700_000_000
    for key, value in fields.items():
        setattr(item, key, value)
    return item
