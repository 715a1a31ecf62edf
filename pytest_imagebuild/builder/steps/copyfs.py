"""Writing copied files into a stage root, in-root safe, remembering what changed.

Every destination path resolves inside the root (symlinked parents included, ``..`` stops at
the root). Files keep their mode and mtime; owners become the ``--chown`` identity or root,
or stay the source's (``keep_owner``, what ``COPY --from`` without ``--chown`` does);
``--chmod`` rewrites permission bits. A copied directory's own mode and owner reach only an
existing destination untouched: a new one is created ``0755`` for the ``--chown`` identity
(root otherwise), as docker's builder does. Files hardlinked to each other inside one copied
directory stay hardlinked (``links``). While copying, each source entry is hashed the way
docker's history expects (see ``srchash``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild.builder.fs import owners
from pytest_imagebuild.builder.fs.paths import RootResolver, remove_path
from pytest_imagebuild.builder.fs.skipped import Skipped
from pytest_imagebuild.errors import BuildError, SandboxError

from .srchash import Hasher, entry_hasher

__all__ = ["Copier", "Ownership"]

_CHUNK = 1 << 20
_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SUBUID_HINT = (
    "the build runs in a single-id user namespace; give the user a subordinate id range in "
    "/etc/subuid and /etc/subgid (usermod --add-subuids/--add-subgids) so files can belong to "
    "other users, or run the build as root"
)


@dataclass(frozen=True)
class Ownership:
    """Who copied entries belong to, and how their modes change."""

    uid: int = 0
    gid: int = 0
    chmod: Callable[[int, bool], int] | None = None
    keep_owner: bool = False


@dataclass
class Copier:
    """Copies host files into ``root``; ``changed`` lists root-relative paths written."""

    root: Path
    owner: Ownership = field(default_factory=Ownership)
    changed: set[str] = field(default_factory=set)
    skip: Callable[[str, str, bool], bool] | None = None
    # directories .dockerignore excludes but walks for its exceptions: copied only when
    # something below them is (docker creates no empty parent for an unmatched exception)
    implied: Callable[[str], bool] | None = None
    created: set[str] = field(default_factory=set)
    # source inode -> host path of its first copy, while one directory is copied
    links: dict[tuple[int, int], str] | None = None
    skipped: Skipped = field(default_factory=Skipped)  # what could not be applied

    def __post_init__(self) -> None:
        self.resolver = RootResolver(str(self.root))

    # -- destination directories --------------------------------------------------------
    def ensure_dir(self, rel: str, *, owned: bool = False) -> str:
        """Create ``rel`` (and missing parents) in-root; returns the resolved relative path."""
        parts = [p for p in rel.split("/") if p and p != "."]
        resolved = ""
        for part in parts:
            host = self.resolver.directory(resolved, create=False, where="COPY")
            candidate = os.path.join(host, part)
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                os.mkdir(candidate, 0o755)
                os.chmod(candidate, 0o755)  # noqa: S103 - docker's mode for created parents
                if owned:
                    self.chown(candidate, candidate, self.owner.uid, self.owner.gid)
                st = os.lstat(candidate)
                self.created.add(f"{resolved}/{part}" if resolved else part)
            if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
                joined = f"{resolved}/{part}" if resolved else part
                real = self.resolver.directory(joined, create=False, where="COPY")
                if not os.path.isdir(real):
                    raise BuildError(
                        f"cannot copy to {rel!r}: {joined!r} is not a directory",
                        hint="a symlink on the way resolves inside the image and must lead "
                        "to a directory there",
                    )
                resolved = os.path.relpath(real, self.resolver.root)
                resolved = "" if resolved == "." else resolved
            else:
                raise BuildError(
                    f"cannot copy to {rel!r}: /{part} exists and is not a directory",
                    hint="remove the file first, or copy to another path",
                )
            self.changed.add(resolved)
        return resolved

    def host(self, resolved: str) -> str:
        return self.resolver.host(resolved)

    def is_dir(self, rel: str) -> bool:
        parent, _, leaf = rel.strip("/").rpartition("/")
        try:
            host = self.resolver.directory(parent, create=False, where="COPY")
        except Exception:
            return False
        return os.path.isdir(os.path.join(host, leaf)) if leaf else True

    # -- entries --------------------------------------------------------------------------
    def chown_path(self, path: str, uid: int, gid: int) -> None:
        """Give ``path`` (not following a symlink) to ``uid``:``gid``."""
        self.chown(path, path, uid, gid)

    def chown(self, target: int | str, path: str, uid: int, gid: int) -> None:
        """Owners the user namespace lacks are recorded (``owners``); a symlink, FIFO or
        device node cannot carry such a record, so that copy is refused."""
        try:
            kept = owners.chown(target, uid, gid)
        except PermissionError as exc:
            raise SandboxError(
                f"cannot give {path} to {uid}:{gid}: {exc.strerror}", hint=_SUBUID_HINT
            ) from exc
        if not kept:
            raise SandboxError(
                f"cannot give {path} to {uid}:{gid}: the build's single-id user namespace has "
                "no such id, and a symlink or special file cannot record it",
                hint=_SUBUID_HINT,
            )

    def _source_owner(self, src: str, st: os.stat_result) -> tuple[int, int]:
        if self.owner.keep_owner:
            return owners.owner(src, st)
        return self.owner.uid, self.owner.gid

    def _finish(
        self, src: str, path: str, st: os.stat_result, is_dir: bool, link: bool = False
    ) -> None:
        uid, gid = self._source_owner(src, st)
        self.chown(path, path, uid, gid)
        if not link:
            mode = stat.S_IMODE(st.st_mode)
            if self.owner.chmod is not None:
                mode = self.owner.chmod(mode, is_dir)
            os.chmod(path, mode)
        os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)

    def copy_entry(
        self,
        src: str,
        parent: str,
        leaf: str,
        name: str,
        hashes: list[str] | None,
        fs_owner: bool,
        top: bool = False,
        srel: str = "",
    ) -> None:
        """Copy ``src`` (not followed) to ``parent``/``leaf`` (resolved, in-root)."""
        st = os.lstat(src)
        dest = os.path.join(self.host(parent), leaf)
        rel = f"{parent}/{leaf}" if parent else leaf
        uid, gid = owners.owner(src, st) if fs_owner else (0, 0)
        if stat.S_ISDIR(st.st_mode):
            existed = False
            try:
                existing = os.lstat(dest)
                existed = stat.S_ISDIR(existing.st_mode)
                if not existed:
                    remove_path(dest)
                    self.resolver.invalidate()
                    os.mkdir(dest, 0o700)
            except FileNotFoundError:
                os.mkdir(dest, 0o700)
            mark = len(hashes) if hashes is not None else 0
            if hashes is not None and name not in (".", ""):
                hashes.append(entry_hasher(name, st.st_mode, uid, gid, 0).hexdigest())
            self.changed.add(rel)
            before = len(self.changed)
            with os.scandir(src) as it:
                children = sorted(it, key=lambda e: e.name)
            for child in children:
                child_name = child.name if name in (".", "") else f"{name}/{child.name}"
                child_srel = f"{srel}/{child.name}" if srel else child.name
                if self.skip is not None and self.skip(
                    child_name, child_srel, child.is_dir(follow_symlinks=False)
                ):
                    continue
                self.copy_entry(
                    child.path, rel, child.name, child_name, hashes, fs_owner, srel=child_srel
                )
            if len(self.changed) == before and self.implied is not None and self.implied(name):
                self.changed.discard(rel)
                if hashes is not None:
                    del hashes[mark:]
                if not existed:
                    os.rmdir(dest)
                return
            if top and not existed and self.owner.chmod is None:
                self.chown(dest, dest, self.owner.uid, self.owner.gid)
                os.chmod(dest, 0o755)  # noqa: S103 - docker creates a new destination 0755
                os.utime(dest, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
            elif not (top and existed):
                self._finish(src, dest, st, True)
            return
        if os.path.lexists(dest) and remove_path(dest):
            self.resolver.invalidate()
        self.changed.add(rel)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(src)
            os.symlink(target, dest)
            if hashes is not None:
                hashes.append(entry_hasher(name, st.st_mode, uid, gid, 0, target).hexdigest())
            self._finish(src, dest, st, False, link=True)
            return
        if stat.S_ISREG(st.st_mode):
            digest = entry_hasher(name, st.st_mode, uid, gid, st.st_size)
            inode = (st.st_dev, st.st_ino)
            first = self.links.get(inode) if self.links is not None else None
            if first is not None:
                os.link(first, dest)
                with open(src, "rb") as fin:
                    while chunk := fin.read(_CHUNK):
                        digest.update(chunk)
            else:
                self._copy_file(src, dest, st, digest, context=not fs_owner)
                if self.links is not None and st.st_nlink > 1:
                    self.links[inode] = dest
            if hashes is not None:
                hashes.append(digest.hexdigest())
            return
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(dest, 0o600)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(dest, st.st_mode, st.st_rdev)
        else:
            self.changed.discard(rel)
            return
        self._finish(src, dest, st, False)

    def _copy_file(
        self, src: str, dest: str, st: os.stat_result, digest: Hasher, *, context: bool = False
    ) -> None:
        """Content, owner, mode and mtime of one regular file, on open descriptors. A file
        from the build context loses its setuid and setgid bits, as with docker's builder
        (``--chmod`` may set them again); one from a stage or image keeps them."""
        fin = os.open(src, _READ)
        try:
            fout = os.open(dest, _CREATE, 0o600)
            try:
                while chunk := os.read(fin, _CHUNK):
                    digest.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fout, view) :]
                uid, gid = self._source_owner(src, st)
                self.chown(fout, dest, uid, gid)
                mode = stat.S_IMODE(st.st_mode)
                if context:
                    mode &= ~(stat.S_ISUID | stat.S_ISGID)
                if self.owner.chmod is not None:
                    mode = self.owner.chmod(mode, False)
                os.fchmod(fout, mode)
                os.utime(fout, ns=(st.st_mtime_ns, st.st_mtime_ns))
            finally:
                os.close(fout)
        finally:
            os.close(fin)

    def write_file(self, parent: str, leaf: str, data: bytes, mode: int, mtime_ns: int) -> None:
        """Create a file from bytes (heredoc or download) at ``parent``/``leaf``."""
        dest = os.path.join(self.host(parent), leaf)
        if os.path.lexists(dest) and remove_path(dest):
            self.resolver.invalidate()
        with open(dest, "xb") as fout:
            fout.write(data)
        self.changed.add(f"{parent}/{leaf}" if parent else leaf)
        self.chown(dest, dest, self.owner.uid, self.owner.gid)
        if self.owner.chmod is not None:
            mode = self.owner.chmod(mode, False)
        os.chmod(dest, mode)
        os.utime(dest, ns=(mtime_ns, mtime_ns))


def host_path(root: Path, rel: str) -> Path:
    return root / rel if rel else root
