"""RUN mounts without mount namespaces: put each source in place, take it away afterwards.

The chroot mode cannot mount, so ``in_place`` materializes every ``Mount`` in the stage root
for the duration of one command, the way an executor that runs in place has to:

- a read-only bind (context, stage, secret, heredoc script) is copied in, owners and modes
  kept, and deleted afterwards;
- a read-write bind (cache directory, throw-away copy of a VOLUME or ``rw`` bind) is renamed
  in and renamed back out, so what the command wrote there lands in the source;
- a tmpfs is an empty directory, deleted afterwards.

Whatever was at a target before is renamed aside (into a holding directory next to the root,
on the same filesystem) and renamed back, so its inodes, contents and times stay as they were.
Missing parents are created and removed again; a parent's atime and mtime are restored when
nothing else changed it meanwhile. A snapshot then sees at most ctime changes: on parent
directories, which the layer code ignores, and on the targets put back (``restored``), which
the caller can tell it to ignore. Nothing of a mount reaches a layer unless the command copied it
elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild.builder.sandbox.mounts import Mount
from pytest_imagebuild.builder.sandbox.paths import Stubs, resolve
from pytest_imagebuild.errors import SandboxError

__all__ = ["InPlace", "copy_tree", "in_place"]


def copy_tree(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` (which must not exist) with modes, owners and times.

    Regular files, directories and symlinks are copied; other file types are skipped.
    Owners the process cannot give (a single-uid user namespace) fall back to its own.
    """
    info = source.lstat()
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), dest)
    elif stat.S_ISDIR(info.st_mode):
        os.mkdir(dest, 0o700)
        for entry in sorted(os.listdir(source)):
            copy_tree(source / entry, dest / entry)
    elif stat.S_ISREG(info.st_mode):
        shutil.copyfile(source, dest, follow_symlinks=False)
    else:
        return
    with contextlib.suppress(OSError):
        os.lchown(dest, info.st_uid, info.st_gid)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(dest, stat.S_IMODE(info.st_mode))
    os.utime(dest, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        if os.path.lexists(path):
            path.unlink()
        return
    shutil.rmtree(path)


def _move(source: Path, dest: Path) -> None:
    """Rename, or copy and delete across filesystems."""
    try:
        os.rename(source, dest)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        copy_tree(source, dest)
        _remove(source)


@dataclass
class _Placed:
    mount: Mount
    host: Path
    held: Path | None
    is_dir: bool
    parent_times: tuple[int, int]
    parent_mtime_after: int = 0


@dataclass
class InPlace:
    """Mounts materialized in ``root``; ``restore`` undoes them, newest first."""

    root: Path
    stubs: Stubs = field(init=False)
    placed: list[_Placed] = field(default_factory=list)
    restored: list[Path] = field(default_factory=list)  # targets put back as they were
    _holding: Path | None = None

    def __post_init__(self) -> None:
        self.stubs = Stubs(self.root)

    def _hold(self, host: Path) -> Path:
        if self._holding is None:
            self._holding = Path(
                tempfile.mkdtemp(prefix=f".{self.root.name}-held-", dir=self.root.parent)
            )
        held = self._holding / str(len(self.placed))
        _move(host, held)
        return held

    def place(self, mount: Mount) -> None:
        if not mount.target.startswith("/"):
            raise SandboxError(f"mount target {mount.target!r} is not absolute")
        source = mount.source
        if mount.type == "bind" and (source is None or not os.path.lexists(source)):
            raise SandboxError(f"mount source {source} does not exist")
        is_dir = mount.type == "tmpfs" or (source is not None and source.is_dir())
        if source is not None and self.root.is_relative_to(os.path.realpath(source)):
            raise SandboxError(f"mount source {source} contains the stage root")
        host = resolve(self.root, mount.target)
        if host == self.root:
            raise SandboxError("cannot mount over / of the stage root")
        existing = os.path.lexists(host)
        if existing and is_dir != host.is_dir():
            kind = "not a directory" if is_dir else "a directory"
            raise SandboxError(f"{mount.target} in the root is {kind}; cannot mount on it")
        if not existing:
            self.stubs.ensure_parents(host)
        parent = host.parent.stat()
        entry = _Placed(mount, host, None, is_dir, (parent.st_atime_ns, parent.st_mtime_ns))
        if existing:
            entry.held = self._hold(host)
        self.placed.append(entry)
        if mount.type == "tmpfs":
            os.mkdir(host, 0o700)
            os.chmod(host, mount.mode)
        elif source is not None and not mount.readonly:
            _move(source, host)
        elif source is not None:
            copy_tree(source, host)
        entry.parent_mtime_after = host.parent.stat().st_mtime_ns

    def restore(self) -> None:
        """Take every mount away again and put back what was there; then the parents."""
        try:
            while self.placed:
                self._undo(self.placed.pop())
        finally:
            self.stubs.restore()
            if self._holding is not None:
                with contextlib.suppress(OSError):
                    self._holding.rmdir()
                self._holding = None

    def _undo(self, entry: _Placed) -> None:
        parent = entry.host.parent
        try:
            untouched = parent.stat().st_mtime_ns == entry.parent_mtime_after
        except FileNotFoundError:  # the command deleted a directory above the target
            untouched = False
        mount, source = entry.mount, entry.mount.source
        if source is not None and not mount.readonly and mount.type == "bind":
            if os.path.lexists(entry.host):
                _move(entry.host, source)
            elif entry.is_dir and not os.path.lexists(source):
                os.mkdir(source, 0o755)  # the command removed it: leave an empty source
        else:
            _remove(entry.host)
        if entry.held is not None:
            if parent.is_dir():
                _remove(entry.host)  # a command may have made something new there
                _move(entry.held, entry.host)
                self.restored.append(entry.host)
            else:
                _remove(entry.held)  # deleted along with its directory, as the command asked
        if untouched:
            os.utime(parent, ns=entry.parent_times)


@contextlib.contextmanager
def in_place(root: Path | str, mounts: Sequence[Mount]) -> Iterator[InPlace]:
    """Materialize ``mounts`` in ``root`` for the block (see the module docstring)."""
    placed = InPlace(Path(os.path.realpath(root)))
    try:
        for mount in mounts:
            placed.place(mount)
        yield placed
    finally:
        placed.restore()
