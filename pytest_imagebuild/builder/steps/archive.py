"""ADD's auto-extraction of local tar archives (plain, gzip, bzip2, xz) into the stage root."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile

from pytest_imagebuild.builder.fs.paths import remove_path
from pytest_imagebuild.errors import BuildError

from .copyfs import Copier
from .srchash import entry_hasher

__all__ = ["extract_archive", "is_archive"]

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def is_archive(path: str) -> bool:
    """True for a tar (plain or compressed) that ADD unpacks instead of copying."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except (IsADirectoryError, FileNotFoundError):
        return False
    if any(head.startswith(m) for m in _MAGIC):
        try:
            with tarfile.open(path, "r:*") as tar:
                return tar.next() is not None
        except (tarfile.TarError, OSError, EOFError):
            return False
    return len(head) >= 262 and head[257:262] == b"ustar"


def extract_archive(copier: Copier, path: str, dest: str, name: str) -> str:
    """Unpack ``path`` under resolved dir ``dest``; returns the history hash of the archive."""
    st = os.stat(path)
    digest = entry_hasher(name, st.st_mode, 0, 0, st.st_size)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    # docker's builder leaves an extracted archive's owners alone, even with --chown
    keep = copier.owner.chmod is None
    dir_times: list[tuple[str, int]] = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                _member(copier, tar, member, dest, keep, dir_times)
    except (tarfile.TarError, EOFError) as exc:
        raise BuildError(f"ADD: cannot unpack {name}: {exc}") from exc
    for host, mtime in reversed(dir_times):
        os.utime(host, (mtime, mtime))
    return digest.hexdigest()


def _member(
    copier: Copier,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    dest: str,
    keep: bool,
    dir_times: list[tuple[str, int]],
) -> None:
    clean = posixpath.normpath("/" + member.name).lstrip("/")
    if not clean or clean == ".":
        return
    parent_rel, leaf = posixpath.split(posixpath.join(dest, clean))
    parent = copier.ensure_dir(parent_rel)
    host = os.path.join(copier.host(parent), leaf)
    rel = f"{parent}/{leaf}" if parent else leaf
    copier.changed.add(rel)
    if member.isdir():
        if os.path.lexists(host) and not os.path.isdir(host):
            remove_path(host)
            copier.resolver.invalidate()
        if not os.path.isdir(host):
            os.mkdir(host, 0o755)
        dir_times.append((host, int(member.mtime)))
    else:
        if os.path.lexists(host) and remove_path(host):
            copier.resolver.invalidate()
        if member.isreg():
            source = tar.extractfile(member)
            with open(host, "xb") as out:
                while source is not None and (chunk := source.read(1 << 20)):
                    out.write(chunk)
        elif member.issym():
            os.symlink(member.linkname, host)
        elif member.islnk():
            target = posixpath.normpath("/" + posixpath.join(dest, member.linkname)).lstrip("/")
            tparent, _, tleaf = target.rpartition("/")
            os.link(
                os.path.join(copier.resolver.directory(tparent, create=False, where="ADD"), tleaf),
                host,
            )
            return
        elif member.isfifo():
            os.mkfifo(host, 0o600)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(host, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        else:
            copier.changed.discard(rel)
            return
    uid, gid = (member.uid, member.gid) if keep else (copier.owner.uid, copier.owner.gid)
    copier.chown(host, host, uid, gid)
    if not member.issym():
        mode = member.mode & 0o7777
        if copier.owner.chmod is not None:
            mode = copier.owner.chmod(mode, member.isdir())
        os.chmod(host, mode)
        if not member.isdir():
            os.utime(host, (member.mtime, member.mtime))
    else:
        os.utime(host, (member.mtime, member.mtime), follow_symlinks=False)
