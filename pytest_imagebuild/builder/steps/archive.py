"""ADD's auto-extraction of local tar archives (plain, gzip, bzip2, xz) into the stage root."""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile

from pytest_imagebuild.builder.fs.paths import remove_path
from pytest_imagebuild.errors import BuildError
from pytest_imagebuild.limits import ArchiveLimits
from pytest_imagebuild.tarcodec import TarFormatError, verify_checksum, xattrs_from_pax

from .bounded import ArchiveLimitError, BoundedArchive, CorruptArchive
from .copyfs import Copier
from .srchash import entry_hasher

__all__ = ["extract_archive", "is_archive"]

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
LIMITS = ArchiveLimits()
MAX_ID = (1 << 32) - 2  # (uid_t)-1 means "leave unchanged" to chown(2)


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
    if len(head) >= 262 and head[257:262] == b"ustar":
        return True
    # a V7 header (no magic; GNU tar writes a volume label this way): a valid checksum, as
    # docker's tar reader needs to take it for an archive
    if len(head) < 512 or head[0] == 0:
        return False
    try:
        verify_checksum(head)
    except TarFormatError:
        return False
    return True


def extract_archive(
    copier: Copier, path: str, dest: str, name: str, limits: ArchiveLimits = LIMITS
) -> str:
    """Unpack ``path`` under resolved dir ``dest``; returns the history hash of the archive.

    The archive is read as a stream under the shared ``limits`` (decompression ratio
    and size, member count, name lengths): past one, the build fails naming the
    archive and the limit."""
    st = os.stat(path)
    digest = entry_hasher(name, st.st_mode, 0, 0, st.st_size)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    # docker's builder leaves an extracted archive's owners alone, even with --chown
    keep = copier.owner.chmod is None
    dir_times: list[tuple[str, int]] = []
    try:
        with (
            BoundedArchive(path, name, limits) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            for count, member in enumerate(tar, 1):
                stream.check_member(count, member.name, member.linkname)
                _member(copier, tar, member, dest, keep, dir_times)
    except ArchiveLimitError as exc:
        raise BuildError(
            f"ADD: archive {name} {exc}",
            hint="unpack it with a RUN step if it is trusted, or check where it came from",
        ) from None
    except (tarfile.TarError, EOFError, CorruptArchive) as exc:
        raise BuildError(f"ADD: cannot unpack {name}: {exc}") from None
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
            _hardlink(copier, member, dest, host)
            return
        elif member.isfifo():
            os.mkfifo(host, 0o600)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                os.mknod(host, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            except PermissionError:
                copier.skipped.add(member.name, "device node", "no CAP_MKNOD")
                copier.changed.discard(rel)
                return
        else:
            copier.skipped.add(member.name, f"tar member type {member.type!r}", "unsupported")
            copier.changed.discard(rel)
            return
    uid, gid = (member.uid, member.gid) if keep else (copier.owner.uid, copier.owner.gid)
    if not (0 <= uid <= MAX_ID and 0 <= gid <= MAX_ID):
        copier.skipped.add(member.name, "owner", f"{uid}:{gid} is not an id; root kept")
        uid, gid = 0, 0
    copier.chown(host, host, uid, gid)
    _xattrs(copier, member, host)
    if not member.issym():
        mode = member.mode & 0o7777
        if copier.owner.chmod is not None:
            mode = copier.owner.chmod(mode, member.isdir())
        os.chmod(host, mode)
        if not member.isdir():
            os.utime(host, (member.mtime, member.mtime))
    else:
        os.utime(host, (member.mtime, member.mtime), follow_symlinks=False)


def _hardlink(copier: Copier, member: tarfile.TarInfo, dest: str, host: str) -> None:
    """Link ``host`` to an earlier member; the target is a name in the archive (under
    ``dest``), resolved in the root, and a symlink there is linked, never followed."""
    inside = posixpath.normpath("/" + member.linkname).lstrip("/")
    target = f"{dest}/{inside}".strip("/") if dest else inside
    tparent, _, tleaf = target.rpartition("/")
    source = os.path.join(copier.resolver.directory(tparent, create=False, where="ADD"), tleaf)
    try:
        os.link(source, host, follow_symlinks=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise BuildError(
            f"ADD: member {member.name!r} links to {member.linkname!r}: {exc.strerror}",
            hint="a hardlink in an archive must name an earlier regular member",
        ) from None


def _xattrs(copier: Copier, member: tarfile.TarInfo, host: str) -> None:
    """Apply the member's extended attributes; report those the kernel refuses."""
    if not member.pax_headers:
        return
    raw = {k: v.encode("utf-8", "surrogateescape") for k, v in member.pax_headers.items()}
    try:
        found = xattrs_from_pax(raw)
    except TarFormatError as exc:
        raise BuildError(f"ADD: member {member.name!r}: {exc.message}") from None
    for key, value in found.items():
        try:
            os.setxattr(host, key, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES):
                raise
            copier.skipped.add(member.name, f"xattr {key}", exc.strerror or "")
