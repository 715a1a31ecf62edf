"""Paths inside a stage root: safe resolution and mount points that leave no trace.

``resolve`` follows symlinks the way the root itself would see them (an absolute link target
and ``..`` never leave the root). ``Stubs`` creates the files and directories a sandbox needs
(mount points, copies of resolv.conf) and takes them away again afterwards, restoring the
parent directory's times, so a layer snapshot does not see them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild.errors import SandboxError

_MAX_LINKS = 40


def resolve(root: Path, path: str) -> Path:
    """Host path of ``path`` inside ``root``, resolving symlinks within ``root``."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        if not candidate.is_symlink():
            done.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise SandboxError(f"too many levels of symbolic links in {path}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            done = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return root.joinpath(*done)


@dataclass
class _Created:
    path: Path
    is_dir: bool
    parent_times: tuple[int, int] | None  # parent's (atime, mtime) before, when it pre-existed
    parent_mtime_after: int = 0


@dataclass
class _Replaced:
    path: Path
    content: bytes
    info: os.stat_result


@dataclass
class Stubs:
    """Mount points and file copies made in a root, undone by :meth:`restore`."""

    root: Path
    created: list[_Created] = field(default_factory=list)
    replaced: list[_Replaced] = field(default_factory=list)

    def _make(self, host: Path, is_dir: bool, content: bytes = b"") -> None:
        parent = host.parent
        info = parent.stat()
        entry = _Created(host, is_dir, (info.st_atime_ns, info.st_mtime_ns))
        if is_dir:
            host.mkdir(mode=0o755)
        else:
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            os.write(fd, content)
            os.close(fd)
        entry.parent_mtime_after = parent.stat().st_mtime_ns
        self.created.append(entry)

    def ensure_parents(self, host: Path) -> None:
        """Create the missing directories above ``host`` (removed again by ``restore``)."""
        missing = []
        for parent in host.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            if parent.is_dir():
                break
            if os.path.lexists(parent):
                raise SandboxError(f"{parent} is in the way of a mount point and not a directory")
            missing.append(parent)
        for parent in reversed(missing):
            self._make(parent, True)

    def directory(self, path: str) -> Path:
        """A directory at ``path`` in the root (created if missing); its host path."""
        host = resolve(self.root, path)
        if not host.is_dir():
            if os.path.lexists(host):
                raise SandboxError(f"{path} in the root is not a directory; cannot mount on it")
            self.ensure_parents(host)
            self._make(host, True)
        return host

    def file(self, path: str, content: bytes = b"") -> Path:
        """A file at ``path`` in the root (created with ``content`` if missing); its host path."""
        host = resolve(self.root, path)
        if not os.path.lexists(host):
            self.ensure_parents(host)
            self._make(host, False, content)
        elif host.is_dir():
            raise SandboxError(f"{path} in the root is a directory; cannot mount a file on it")
        return host

    def replace(self, path: str, content: bytes) -> None:
        """Give the file at ``path`` this content for now (chroot mode: no bind mounts)."""
        host = resolve(self.root, path)
        if not os.path.lexists(host):
            self.file(path, content)
            return
        if not host.is_file():
            return  # not a regular file: leave it alone
        self.replaced.append(_Replaced(host, host.read_bytes(), host.stat()))
        host.write_bytes(content)

    def device(self, path: str, source: str) -> bool:
        """A character device like host ``source`` at ``path``, if missing (chroot mode).

        False when ``mknod`` is refused (no CAP_MKNOD, as in a user namespace, or the device
        cgroup): nothing is made then."""
        host = resolve(self.root, path)
        if os.path.lexists(host):
            return True
        self.ensure_parents(host)
        parent = host.parent.stat()
        rdev = os.stat(source).st_rdev
        try:
            os.mknod(host, 0o666 | stat.S_IFCHR, rdev)
        except OSError:
            return False
        os.chmod(host, 0o666)  # noqa: S103 - device nodes are world-writable
        entry = _Created(host, False, (parent.st_atime_ns, parent.st_mtime_ns))
        entry.parent_mtime_after = host.parent.stat().st_mtime_ns
        self.created.append(entry)
        return True

    def restore(self) -> None:
        """Undo everything, newest first; keep what a command filled in meanwhile."""
        for item in reversed(self.replaced):
            item.path.write_bytes(item.content)
            os.chown(item.path, item.info.st_uid, item.info.st_gid)
            os.chmod(item.path, stat.S_IMODE(item.info.st_mode))
            os.utime(item.path, ns=(item.info.st_atime_ns, item.info.st_mtime_ns))
        self.replaced.clear()
        for entry in reversed(self.created):
            self._remove(entry)
        self.created.clear()

    def _remove(self, entry: _Created) -> None:
        try:
            info = entry.path.lstat()
        except FileNotFoundError:
            return
        parent = entry.path.parent
        untouched = parent.stat().st_mtime_ns == entry.parent_mtime_after
        try:
            if entry.is_dir and stat.S_ISDIR(info.st_mode):
                entry.path.rmdir()
            elif not entry.is_dir and (stat.S_ISCHR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                entry.path.unlink()
            else:
                return
        except OSError:
            return  # not empty: the command put something there, so it stays
        if untouched and entry.parent_times is not None:
            os.utime(parent, ns=entry.parent_times)
