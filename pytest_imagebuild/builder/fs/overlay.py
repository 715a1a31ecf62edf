"""Overlay mounts for stage roots that share one unpacked base.

A build whose stages start from the same image unpacks that image once (``SharedBase``)
and gives each stage an overlay: the base as the read-only lower directory, the stage's own
upper and work directories beside it, the merged view at the stage root. Writes copy up
into the stage's upper directory, so no stage sees another's files and the base is never
changed. The mounts live in the build's private mount namespace (``private_mounts``): a
build that dies takes them with it. Where mounting is refused (docker's default seccomp
profile, old kernels) the caller unpacks each stage on its own instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_imagebuild.builder.sandbox import libc

from .rootstore import RootStore
from .skipped import Skipped
from .snapshot import IgnoreList, Index, scan
from .unpack import unpack_layer

__all__ = ["SharedBase", "mount_overlay", "private_mounts", "unmount"]

_OPTION_BREAKERS = frozenset(",:\\")


def private_mounts() -> bool:
    """Give the calling thread (and the threads and processes it starts) a mount namespace
    of its own, nothing propagating back; False where the kernel or seccomp refuse."""
    try:
        libc.unshare(libc.CLONE_NEWNS)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError:
        return False
    return True


def mount_overlay(lower: Path, upper: Path, work: Path, target: Path) -> bool:
    """Mount ``lower`` + ``upper`` at ``target``; False when the kernel refuses."""
    paths = [str(p) for p in (lower, upper, work)]
    if any(_OPTION_BREAKERS & set(p) for p in paths):
        return False  # mount(2) options cannot quote these characters
    if os.stat(lower).st_dev != os.stat(upper).st_dev:
        return False  # across filesystems overlay reports the lower's st_dev: snapshots skip it
    data = f"lowerdir={paths[0]},upperdir={paths[1]},workdir={paths[2]}"
    # Renamed lower directories must be copied up whole, so the upper directory names every
    # changed path (snapshot.py relies on it): redirect_dir=off, which userxattr (a user
    # namespace keeps overlay xattrs in user.*) implies and refuses to be given.
    for extra in (",redirect_dir=off", ",userxattr"):
        try:
            libc.mount("overlay", str(target), "overlay", 0, data + extra)
        except OSError:
            continue
        return True
    return False


def unmount(target: Path) -> None:
    libc.umount2(str(target), libc.MNT_DETACH)


class SharedBase:
    """A base image's layers unpacked once, at ``path`` or in a ``RootStore`` across
    builds, for stages to mount."""

    def __init__(
        self,
        path: Path,
        layers: Sequence[Path],
        log: Callable[[str], None],
        *,
        store: RootStore | None = None,
        digests: Sequence[str] = (),
        skipped: Skipped | None = None,
    ) -> None:
        self.path = path
        self.skipped = skipped
        self.layers = tuple(layers)
        self.store = store
        self.digests = tuple(digests)
        self.users = 0  # stages of the build starting from it
        self._log = log
        self._made = False
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._index_ignore: IgnoreList | None = None

    def index(self, ignore: IgnoreList) -> Index:
        """The unpacked base's snapshot index (taken once; the base never changes)."""
        path = self.ensure()
        with self._lock:
            if self._index is None or self._index_ignore != ignore:
                self._index = scan(path, ignore)
                self._index_ignore = ignore
            return self._index

    def ensure(self) -> Path:
        """The unpacked base (unpacked by the first stage to ask; others wait for it)."""
        with self._lock:
            if not self._made and self.store is not None:
                self.path = self.store.acquire(self.digests, self.layers, self.skipped)
                self._made = True
            if not self._made:
                self.path.mkdir(parents=True)
                os.chmod(self.path, 0o755)  # noqa: S103 - a root directory's usual mode
                self._log(f"shared base: unpacking {len(self.layers)} layers once\n")
                for layer in self.layers:
                    unpack_layer(layer, self.path, skipped=self.skipped)
                self._made = True
            return self.path
