"""Comparable listings of a filesystem: from ``docker export`` tarballs and from ``Image``.

An ``Entry`` holds what the differential tests compare for each path: type, permission
bits (incl. setuid/setgid/sticky), uid, gid, size and sha256 (regular files), link target
(symlinks), device numbers are not compared, xattrs. Hardlinks are resolved to the regular
file they name, as the merged view of ``Image`` does.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Paths that docker's init layer puts into every container: they are in ``docker export``
# output whatever the image holds (moby daemon/initlayer/setup_unix.go). They are left out
# of both sides of the comparison; nothing else is.
RUNTIME_PATHS = frozenset(
    {
        "/.dockerenv",
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/mtab",
        "/dev/console",
        "/dev/pts",
        "/dev/shm",
        "/proc",
        "/sys",
    }
)
# The init layer also creates the parents of those paths (mode 0755, root) above the image
# layers: for these directories only the type is comparable, and an export holds them even
# when the image does not.
RUNTIME_PARENTS = frozenset({"/etc", "/dev"})

TAR_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}
XATTR_PREFIX = "SCHILY.xattr."


@dataclass(frozen=True)
class Entry:
    type: str
    mode: int
    uid: int
    gid: int
    size: int | None = None
    sha256: str | None = None
    linked_to: str | None = None
    xattrs: Mapping[str, bytes] = field(default_factory=dict)

    def comparable(self, path: str) -> Entry:
        if path in RUNTIME_PARENTS:
            return Entry(type=self.type, mode=0, uid=0, gid=0)
        return self


def _norm(name: str) -> str:
    return posixpath.normpath("/" + name)


def _xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PREFIX):
            raw = value.encode("utf-8", "surrogateescape")
            found[key.removeprefix(XATTR_PREFIX)] = raw
    return found


def tar_listing(tar_path: Path) -> dict[str, Entry]:
    """The filesystem held by a plain (export or rootfs) tarball, hardlinks resolved."""
    entries: dict[str, Entry] = {}
    with tarfile.open(tar_path, "r:", encoding="utf-8", errors="surrogateescape") as tar:
        for member in tar:
            path = _norm(member.name)
            if path == "/":
                continue
            if member.islnk():
                entries[path] = entries[_norm(member.linkname)]
                continue
            kind = TAR_TYPES.get(member.type)
            if kind is None:
                raise AssertionError(f"{tar_path}: unexpected tar type {member.type!r} for {path}")
            size = sha = link = None
            if kind == "file":
                size = member.size
                digest = hashlib.sha256()
                stream = tar.extractfile(member)
                if stream is None:
                    raise AssertionError(f"{tar_path}: no data for {path}")
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                sha = digest.hexdigest()
            elif kind == "symlink":
                link = member.linkname
            entries[path] = Entry(
                type=kind,
                mode=member.mode & 0o7777,
                uid=member.uid,
                gid=member.gid,
                size=size,
                sha256=sha,
                linked_to=link,
                xattrs=_xattrs(member),
            )
    return entries


def image_listing(files: Iterable[Any]) -> dict[str, Entry]:
    """The same listing from ``Image.walk()`` (or any iterable of ``File``)."""
    entries: dict[str, Entry] = {}
    for f in files:
        if f.path == "/":
            continue
        is_file = f.type == "file"
        entries[f.path] = Entry(
            type=f.type,
            mode=int(f.mode) & 0o7777,
            uid=f.uid,
            gid=f.gid,
            size=f.size if is_file else None,
            sha256=f.sha256 if is_file else None,
            linked_to=f.linked_to if f.type == "symlink" else None,
            xattrs=dict(f.xattrs),
        )
    return entries


def without_runtime(entries: Mapping[str, Entry]) -> dict[str, Entry]:
    return {p: e.comparable(p) for p, e in entries.items() if p not in RUNTIME_PATHS}


def export_vs_image(
    exported: Mapping[str, Entry], image: Mapping[str, Entry]
) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """Both listings without runtime paths; runtime parents the image lacks are dropped."""
    expected = without_runtime(exported)
    got = without_runtime(image)
    for parent in RUNTIME_PARENTS - got.keys():
        expected.pop(parent, None)
    return expected, got


def describe_differences(
    expected: Mapping[str, Entry], got: Mapping[str, Entry], limit: int = 40
) -> str:
    """A readable report of how ``got`` differs from ``expected`` ('' when equal)."""
    lines: list[str] = []
    missing = sorted(expected.keys() - got.keys())
    extra = sorted(got.keys() - expected.keys())
    changed = sorted(p for p in expected.keys() & got.keys() if expected[p] != got[p])
    for path in missing[:limit]:
        lines.append(f"missing from image: {path!r} expected {_show(expected[path])}")
    for path in extra[:limit]:
        lines.append(f"not in expected:    {path!r} got {_show(got[path])}")
    for path in changed[:limit]:
        exp, act = expected[path], got[path]
        fields = [
            f"{name}: expected {_field(exp, name)} got {_field(act, name)}"
            for name in ("type", "mode", "uid", "gid", "size", "sha256", "linked_to", "xattrs")
            if getattr(exp, name) != getattr(act, name)
        ]
        lines.append(f"differs:            {path!r} " + "; ".join(fields))
    if not lines:
        return ""
    header = f"{len(missing)} missing, {len(extra)} extra, {len(changed)} different"
    return "\n".join([header, *lines])


def _field(entry: Entry, name: str) -> str:
    value = getattr(entry, name)
    return oct(value) if name == "mode" else repr(value)


def _show(entry: Entry) -> str:
    names = ("type", "mode", "uid", "gid", "size", "sha256", "linked_to", "xattrs")
    return " ".join(f"{n}={_field(entry, n)}" for n in names if getattr(entry, n) not in (None, {}))
