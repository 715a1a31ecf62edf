"""In-root path handling: names from layers, and symlink resolution that never leaves the root.

Every path a layer or a build step writes is resolved as if the stage root were ``/`` (what a
``chroot`` would see): a symlink ``etc -> /elsewhere`` sends ``etc/passwd`` to
``<root>/elsewhere/passwd``, and ``..`` stops at the root. Only parent directories are
resolved; the last component is never followed, so writing replaces a symlink instead of
writing through it.
"""

from __future__ import annotations

import os
import shutil
import stat

from pytest_imagebuild.errors import ImageFormatError

__all__ = [
    "MAX_LINKS",
    "RootResolver",
    "clean_member_name",
    "fast_clean",
    "remove_path",
    "resolve_in_root",
]

MAX_LINKS = 255


def clean_member_name(name: str, where: str) -> str:
    """A member name as a clean root-relative path (``""`` is the root itself).

    ``./`` prefixes, trailing slashes and ``.`` components are dropped. ``..`` components and
    absolute names (other than ``/`` alone) are hostile and raise ImageFormatError.
    """
    if name.startswith("/"):
        if name.strip("/") in ("", "."):
            return ""
        raise ImageFormatError(f"{where}: member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise ImageFormatError(f"{where}: member {name!r} has a '..' component")
    return "/".join(parts)


def fast_clean(name: str, where: str) -> str:
    """``clean_member_name`` with a fast path for the common already-clean names."""
    if name.startswith("./"):
        name = name[2:]
    if name.endswith("/"):
        name = name.rstrip("/")
    if name.startswith("/") or ".." in name or "//" in name or "./" in name or name == ".":
        return clean_member_name(name, where)
    return name


def remove_path(path: str) -> bool:
    """Remove whatever is at ``path`` without following it; True if it was a dir or symlink."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
        return True
    os.unlink(path)
    return stat.S_ISLNK(st.st_mode)


class RootResolver:
    """Resolves root-relative directory paths to host paths inside ``root``, with a cache.

    The cache maps a relative directory path to its resolved relative path; callers call
    ``invalidate()`` whenever they remove or replace a directory or a symlink.
    """

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"
        self._cache: dict[str, str] = {"": ""}

    def invalidate(self) -> None:
        self._cache = {"": ""}

    def cached(self, rel: str) -> bool:
        return rel in self._cache

    def host(self, resolved: str) -> str:
        return f"{self.root}/{resolved}" if resolved else self.root

    def directory(self, rel: str, *, create: bool, where: str) -> str:
        """Host path of directory ``rel`` (resolved in-root), creating missing parts (0755)."""
        cached = self._cache.get(rel)
        if cached is not None:
            return self.host(cached)
        resolved = self._resolve(rel, create=create, where=where)
        if create:
            self._cache[rel] = resolved
        return self.host(resolved)

    def _resolve(self, rel: str, *, create: bool, where: str) -> str:
        parent, _, leaf = rel.rpartition("/")
        base = self._cache.get(parent)
        if base is None:
            base = self._resolve(parent, create=create, where=where)
            if create:
                self._cache[parent] = base
        current = base.split("/") if base else []
        pending = [leaf]
        links = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if current:
                    current.pop()
                continue
            candidate = f"{self.root}/{'/'.join([*current, part])}"
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                if not create:
                    current.append(part)
                    continue
                os.mkdir(candidate, 0o755)
                os.chmod(candidate, 0o755)  # noqa: S103 - docker's mode for implied parents
                current.append(part)
                continue
            if stat.S_ISDIR(st.st_mode):
                current.append(part)
            elif stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise ImageFormatError(f"{where}: too many levels of symbolic links in {rel!r}")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    current = []
                pending.extend(reversed(target.split("/")))
            else:
                raise ImageFormatError(
                    f"{where}: {rel!r} is not a directory (a parent is a "
                    f"{'file' if stat.S_ISREG(st.st_mode) else 'special file'})"
                )
        return "/".join(current)


def resolve_in_root(root: str, path: str, *, follow_last: bool = False) -> str:
    """``path`` (``/``-rooted or relative) resolved inside ``root``, as a root-relative path.

    Symlinks in the parents are followed the way a ``chroot`` would; the last component only
    with ``follow_last``. Missing components are kept as they are (nothing is created). This
    is how COPY, ADD and WORKDIR find where a destination really is.
    """
    parts = [p for p in path.split("/") if p and p != "."]
    resolver = RootResolver(root)
    where = f"path {path!r}"
    if follow_last:
        host = resolver.directory("/".join(parts), create=False, where=where)
    else:
        leaf = parts.pop() if parts else ""
        parent = resolver.directory("/".join(parts), create=False, where=where)
        host = f"{parent}/{leaf}" if leaf else parent
    return host[len(resolver.root) :].lstrip("/")
