"""Writes layer members into a stage root: the per-member half of ``unpack``.

Creating an inode costs tens of microseconds in the kernel, most of a base image's unpack
time. Small regular files are therefore written by a few threads (the GIL is released in every
syscall) while the main thread keeps parsing; anything that could depend on a pending write
(hardlinks, whiteouts, a name seen twice) first waits for all pending writes (``barrier``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from pytest_imagebuild.errors import ImageFormatError, SandboxError

from . import owners
from .paths import RootResolver, fast_clean, remove_path
from .skipped import Skipped
from .tarformat import BLOCKDEV, CHAR, FIFO, HARDLINK, SYMLINK, Member
from .tarreader import TarReader

__all__ = ["Applier", "UnpackReport"]

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_ID = (1 << 32) - 2  # (uid_t)-1 tells chown(2) to leave the owner unchanged
_THREADED_MAX = 1 << 20  # larger files are written straight from the stream buffer
_BATCH_FILES = 48
_BATCH_BYTES = 4 << 20
_MAX_INFLIGHT = 12
_OWNER_HINT = (
    "unpack as root, or inside the build's user namespace (userns.run_in_userns), where owners "
    "the namespace lacks are recorded instead"
)


@dataclass
class UnpackReport:
    """What applying one layer did: counts, and members that could not be fully applied."""

    compression: str = "none"
    members: int = 0
    bytes: int = 0
    whiteouts: int = 0
    skipped: Skipped = field(default_factory=Skipped)


def _ns(member: Member) -> int:
    return member.mtime * 1_000_000_000 + member.mtime_nsec


class Applier:
    """Applies members to one root; ``close()`` waits for writes and restores dir mtimes."""

    def __init__(self, root: str, where: str, report: UnpackReport, threads: int = 3) -> None:
        self.resolver = RootResolver(root)
        self.where = where
        self.report = report
        self.dir_times: list[tuple[str, int]] = []
        # One single-thread lane per writer, chosen by parent directory: creating files in one
        # directory serializes on its lock in the kernel, so lanes work on different ones.
        self._lanes = [
            ThreadPoolExecutor(1, thread_name_prefix="unpack") for _ in range(max(threads, 0))
        ]
        self._batches: list[list[tuple[str, bytes, Member]]] = [[] for _ in self._lanes]
        self._batch_bytes = [0 for _ in self._lanes]
        self._inflight: list[Future[None]] = []
        self.pending: set[str] = set()  # names of files queued since the last barrier

    # -- ownership, xattrs, replacement ------------------------------------------------------

    def chown(self, target: int | str, member: Member, *, fresh: bool = True) -> None:
        uid, gid = member.uid, member.gid
        if not (0 <= uid <= _MAX_ID and 0 <= gid <= _MAX_ID):
            self.report.skipped.add(member.name, "owner", f"{uid}:{gid} is not an id; root kept")
            uid = gid = 0
        try:
            kept = owners.chown(target, uid, gid, fresh=fresh)
        except PermissionError as exc:
            raise SandboxError(
                f"{self.where}: cannot give {member.name!r} owner {member.uid}:{member.gid} "
                f"({exc.strerror})",
                hint=_OWNER_HINT,
            ) from exc
        if not kept:
            self.report.skipped.add(
                member.name, "owner", f"{uid}:{gid} has no id in the user namespace; root kept"
            )

    def xattrs(self, target: int | str, member: Member) -> None:
        for key, value in member.xattrs.items():
            if key == owners.XATTR:
                continue  # the builder's own record: never taken from a layer
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES):
                    raise
                self.report.skipped.add(member.name, f"xattr {key}", exc.strerror or "")

    def replace(self, path: str) -> None:
        if remove_path(path):
            self.resolver.invalidate()

    # -- regular files -------------------------------------------------------------------------

    def regular(self, reader: TarReader, member: Member, name: str, path: str) -> None:
        size = member.size
        self.report.bytes += size
        if not self._lanes or size > _THREADED_MAX:
            self._write_file(path, member, reader, None)
            return
        data = reader.read_data(size) if size else b""
        lane = hash(path.rpartition("/")[0]) % len(self._lanes)
        batch = self._batches[lane]
        batch.append((path, data, member))
        self.pending.add(name)
        self._batch_bytes[lane] += size
        if len(batch) >= _BATCH_FILES or self._batch_bytes[lane] >= _BATCH_BYTES:
            self._submit(lane)

    def _write_file(
        self, path: str, member: Member, reader: TarReader | None, data: bytes | None
    ) -> None:
        try:
            fd = os.open(path, _CREATE, 0o600)
        except FileExistsError:
            self.replace(path)
            fd = os.open(path, _CREATE, 0o600)
        try:
            if reader is not None:
                reader.write_to(fd, member.size)
            elif data:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            self.chown(fd, member)
            os.fchmod(fd, member.mode)
            if member.xattrs:
                self.xattrs(fd, member)  # after chown and write, which drop capabilities
            ns = _ns(member)
            os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)

    def _write_batch(self, batch: list[tuple[str, bytes, Member]]) -> None:
        for path, data, member in batch:
            self._write_file(path, member, None, data)

    def _submit(self, lane: int) -> None:
        batch = self._batches[lane]
        if not batch:
            return
        if len(self._inflight) >= _MAX_INFLIGHT:
            self._inflight.pop(0).result()
        self._inflight.append(self._lanes[lane].submit(self._write_batch, batch))
        self._batches[lane] = []
        self._batch_bytes[lane] = 0

    def barrier(self) -> None:
        """Wait until every queued file is written; re-raise the first failure."""
        for lane in range(len(self._lanes)):
            self._submit(lane)
        inflight, self._inflight = self._inflight, []
        self.pending.clear()
        for future in inflight:
            future.result()

    # -- directories and the rest --------------------------------------------------------------

    def directory(self, member: Member, path: str) -> None:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                self.replace(path)
                os.mkdir(path, 0o700)
        self.chown(path, member, fresh=False)
        os.chmod(path, member.mode)
        if member.xattrs:
            self.xattrs(path, member)
        self.dir_times.append((path, _ns(member)))

    def special(self, member: Member, path: str) -> None:
        """Symlinks, hardlinks, device nodes and FIFOs."""
        kind = member.type
        for attempt in (0, 1):
            try:
                if kind == SYMLINK:
                    os.symlink(member.linkname, path)
                elif kind == HARDLINK:
                    self.barrier()
                    os.link(self.link_source(member), path, follow_symlinks=False)
                    return  # shares the target's inode and metadata
                elif kind == FIFO:
                    os.mkfifo(path, 0o600)
                else:
                    fmt = stat.S_IFCHR if kind == CHAR else stat.S_IFBLK
                    os.mknod(path, fmt | 0o600, os.makedev(member.devmajor, member.devminor))
                break
            except FileExistsError:
                if attempt:
                    raise
                self.replace(path)
            except PermissionError:
                if kind in (CHAR, BLOCKDEV):
                    self.report.skipped.add(member.name, "device node", "no CAP_MKNOD")
                    return
                raise
        self.chown(path, member)
        if kind != SYMLINK:
            os.chmod(path, member.mode)
        if member.xattrs:
            self.xattrs(path, member)
        ns = _ns(member)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)

    def link_source(self, member: Member) -> str:
        try:
            target = fast_clean(member.linkname, self.where)
        except ImageFormatError as exc:
            why = f"hardlink target {member.linkname!r} escapes the root"
            raise self.fail(member, why) from exc
        if not target:
            raise self.fail(member, "hardlink to the root directory")
        parent, _, leaf = target.rpartition("/")
        source = self.resolver.directory(parent, create=False, where=self.where) + "/" + leaf
        try:
            st = os.lstat(source)
        except FileNotFoundError:
            raise self.fail(member, f"hardlink target {member.linkname!r} does not exist") from None
        if stat.S_ISDIR(st.st_mode):
            raise self.fail(member, f"hardlink target {member.linkname!r} is a directory")
        return source

    def fail(self, member: Member, why: str) -> ImageFormatError:
        return ImageFormatError(f"{self.where}: member {member.name!r}: {why}")

    def close(self, *, success: bool) -> None:
        """Finish pending writes (re-raising their errors when ``success``), then dir mtimes."""
        try:
            if success:
                self.barrier()
        finally:
            for pool in self._lanes:
                pool.shutdown(wait=True, cancel_futures=True)
        if not success:
            return
        for path, ns in reversed(self.dir_times):
            with contextlib.suppress(FileNotFoundError):
                os.utime(path, ns=(ns, ns), follow_symlinks=False)
