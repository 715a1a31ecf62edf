"""Owners the build's user namespace cannot give a file, kept in an xattr on the file.

In a single-id user namespace (``0 -> the caller's uid``, what ``unshare -r`` sets up) only uid
and gid 0 exist: ``chown(path, 1000, 1000)`` fails with ``EINVAL``. A base layer whose files
belong to 1000, or ``COPY --chown=1000:1000``, must still produce layers that say 1000. So
where the kernel refuses an id, :func:`chown` writes ``uid:gid`` into the ``user.imagebuild.owner``
xattr of the file instead, and :func:`owner` (used by the layer writer and by ``COPY --from``)
reads it back. The record lives on the inode: a RUN that appends to such a file, renames it or
hardlinks it keeps it; a file made anew does not have it (and belongs to root, as under docker).

User xattrs exist on regular files and directories only: a symlink, FIFO or device node whose
owner cannot be given is reported by :func:`chown` returning False, and the caller decides
(unpack notes it, COPY refuses).
"""

from __future__ import annotations

import errno
import os
import stat

from pytest_imagebuild.errors import SandboxError

__all__ = ["XATTR", "chown", "owner"]

XATTR = "user.imagebuild.owner"
_NO_XATTR = (errno.ENOTSUP, errno.EOPNOTSUPP)
_HINT = (
    "the build directory's filesystem refuses user xattrs; put the build directory on ext4, "
    "xfs, btrfs or tmpfs (Linux 6.6+), or give the user subordinate ids "
    "(`usermod --add-subuids 200000-265535 --add-subgids 200000-265535 USER`)"
)


def _setxattr(target: int | str, value: bytes) -> None:
    if isinstance(target, int):
        os.setxattr(target, XATTR, value)
    else:
        os.setxattr(target, XATTR, value, follow_symlinks=False)


def _forget(target: int | str) -> None:
    try:
        if isinstance(target, int):
            os.removexattr(target, XATTR)
        else:
            os.removexattr(target, XATTR, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, errno.EPERM, *_NO_XATTR):
            raise


def chown(target: int | str, uid: int, gid: int, *, fresh: bool = False) -> bool:
    """Give ``target`` (a descriptor, or a path not followed) the owner ``uid:gid``.

    Where the namespace lacks an id (``EINVAL``), record the owner in the xattr instead. False
    when that is impossible because ``target`` is a symlink, FIFO or device node. ``fresh``
    (a file just created) skips removing a stale record after a successful chown.
    """
    try:
        if isinstance(target, int):
            os.fchown(target, uid, gid)
        else:
            os.lchown(target, uid, gid)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    else:
        if not fresh:
            _forget(target)
        return True
    mode = os.fstat(target).st_mode if isinstance(target, int) else os.lstat(target).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return False
    try:
        _setxattr(target, f"{uid}:{gid}".encode())
    except OSError as exc:
        if exc.errno not in _NO_XATTR:
            raise
        where = target if isinstance(target, str) else f"descriptor {target}"
        raise SandboxError(
            f"cannot give {where} the owner {uid}:{gid}: the user namespace has no such id "
            "and the filesystem cannot record it",
            hint=_HINT,
        ) from exc
    return True


def owner(host: str, st: os.stat_result) -> tuple[int, int]:
    """The owner ``host`` (with ``lstat`` result ``st``) has in the image."""
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return st.st_uid, st.st_gid
    try:
        value = os.getxattr(host, XATTR, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, *_NO_XATTR):
            return st.st_uid, st.st_gid
        raise
    uid, _, gid = value.decode("ascii", "replace").partition(":")
    if not (uid.isdigit() and gid.isdigit()):
        return st.st_uid, st.st_gid
    return int(uid), int(gid)
