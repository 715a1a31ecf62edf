"""Find what a build step changed in a stage root without hashing any file content.

An index maps each root-relative path to its ``lstat`` identity: inode, mode (type and
permission bits), size, owner, mtime and ctime in nanoseconds. ctime is the key: the kernel
moves it on every content write, chmod, chown, xattr change, link count change and rename,
and no system call can set it back, so a write that keeps size and mtime is still seen. A new
inode under a directory's name means the directory was deleted and made again; Docker's
overlay-based builder marks such a directory opaque, and so do we.

A stage root that is an overlay on a shared base (overlay.py) is indexed without walking
it: the base, the read-only lower directory, is indexed once per build, and every path the
stage changed has an entry in the upper directory (a copy, a whiteout, a new directory).
So the root's index is the base's with the upper directory's changed paths looked up again
in the merged view. Walking the small upper directory replaces walking the whole root.
This holds because the lower never changes, the overlay keeps a copied-up object's inode
number (lower and upper on one filesystem), and renames of lower directories are copies
(``redirect_dir=off``, which mount_overlay asks for).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ALWAYS_IGNORED", "Changes", "IgnoreList", "Index", "Snapshotter", "diff", "scan"]

StatKey = tuple[int, int, int, int, int, int, int]  # ino, mode, size, uid, gid, mtime, ctime
Index = dict[str, StatKey]
# The sandbox mounts over these during RUN; what is in them (and their own times) is never
# part of a layer. A base image that ships the empty directories keeps them.
ALWAYS_IGNORED = ("proc", "sys", "dev")


@dataclass(frozen=True)
class IgnoreList:
    """Paths a snapshot never looks at (kaniko's ``--ignore-path``), root-relative.

    ``paths`` are skipped with their subtree (``ALWAYS_IGNORED`` is always among them);
    ``patterns`` are ``fnmatch`` patterns matched against the whole relative path.
    """

    paths: frozenset[str] = frozenset(ALWAYS_IGNORED)
    patterns: tuple[str, ...] = ()

    @classmethod
    def build(cls, ignore_paths: Iterable[str] = (), *, var_run: bool = False) -> IgnoreList:
        """From ``/``-rooted or relative paths; globs become patterns."""
        exact: set[str] = set()
        patterns: list[str] = []
        for raw in [*ignore_paths, *(["var/run"] if var_run else [])]:
            rel = "/".join(p for p in raw.split("/") if p and p != ".")
            if any(ch in rel for ch in "*?["):
                patterns.append(rel)
            elif rel:
                exact.add(rel)
        return cls(frozenset(exact) | frozenset(ALWAYS_IGNORED), tuple(patterns))

    def skips(self, rel: str) -> bool:
        if rel in self.paths:
            return True
        return any(fnmatch.fnmatchcase(rel, pat) for pat in self.patterns)


@dataclass
class Changes:
    """The difference between two indexes, in layer terms (all lists sorted)."""

    changed: list[str] = field(default_factory=list)  # write these in full
    deleted: list[str] = field(default_factory=list)  # whiteout these (topmost only)
    opaque: list[str] = field(default_factory=list)  # directories made again: opaque marker

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted or self.opaque)


def _key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_mode, st.st_size, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ctime_ns)


def scan(root: Path, ignore: IgnoreList | None = None, *, under: str = "") -> Index:
    """Index every path below ``root`` (or below ``under`` in it), lstat only."""
    ignore = ignore or IgnoreList()
    top = os.fspath(root)
    root_dev = os.lstat(top).st_dev
    index: Index = {}
    stack = [under]
    skip_paths, patterns = ignore.paths, ignore.patterns
    while stack:
        rel_dir = stack.pop()
        prefix = f"{rel_dir}/" if rel_dir else ""
        try:
            entries = os.scandir(f"{top}/{rel_dir}" if rel_dir else top)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                rel = prefix + entry.name
                if rel in skip_paths or (patterns and ignore.skips(rel)):
                    continue
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    if st.st_dev != root_dev:
                        continue  # a mount point: not part of the image
                    stack.append(rel)
                index[rel] = _key(st)
    return index


def diff(old: Index, new: Index) -> Changes:
    """What turns ``old`` into ``new``: paths to write, whiteouts, opaque directories."""
    changes = Changes()
    opaque: set[str] = set()
    for path, key in new.items():
        before = old.get(path)
        if before != key:
            changes.changed.append(path)
            if (
                before is not None
                and stat.S_ISDIR(key[1])
                and stat.S_ISDIR(before[1])
                and before[0] != key[0]
            ):
                opaque.add(path)
    if opaque:
        prefixes = tuple(f"{p}/" for p in opaque)
        listed = set(changes.changed)
        changes.changed.extend(p for p in new if p not in listed and p.startswith(prefixes))
    for path in old.keys() - new.keys():
        parent = path.rpartition("/")[0]
        if parent:
            now = new.get(parent)
            if now is None or not stat.S_ISDIR(now[1]) or parent in opaque:
                continue  # the parent went, became a non-directory, or is opaque
        changes.deleted.append(path)
    changes.changed.sort()
    changes.deleted.sort()
    changes.opaque = sorted(opaque)
    return changes


class Snapshotter:
    """Keeps the index of one stage root between steps.

    With ``upper`` (the overlay's upper directory) and ``lower`` (the index of its lower
    directory, asked for once), the index follows the upper directory instead of a walk.
    """

    def __init__(
        self,
        root: Path,
        ignore: IgnoreList | None = None,
        *,
        upper: Path | None = None,
        lower: Callable[[], Index] | None = None,
    ) -> None:
        self.root = root
        self.ignore = ignore or IgnoreList()
        self.index: Index = {}
        self.upper = upper if lower is not None else None
        self._lower = lower
        self._upper_index: Index = {}

    def reset(self) -> None:
        """Take a fresh index: the baseline for the next ``snapshot()``."""
        if self.upper is None or self._lower is None:
            self.index = scan(self.root, self.ignore)
            return
        self.index = dict(self._lower())
        self._upper_index = {}
        self._follow_upper(self.index)

    def snapshot(self) -> Changes:
        """Changes since the last ``reset()``/``snapshot()``; the new state becomes the base."""
        if self.upper is None:
            current = scan(self.root, self.ignore)
        else:
            current = dict(self.index)
            self._follow_upper(current)
        changes = diff(self.index, current)
        self.index = current
        return changes

    def _follow_upper(self, index: Index) -> None:
        """Bring ``index`` up to the merged root: look up again every path whose entry in
        the upper directory changed since the last look; a directory that went, became a
        non-directory or was made again (a new inode: opaque) loses its old subtree."""
        if self.upper is None:
            return
        current = scan(self.upper, self.ignore)
        before = self._upper_index
        touched = [p for p, key in current.items() if before.get(p) != key]
        touched.extend(before.keys() - current.keys())
        top = os.fspath(self.root)
        for path in sorted(touched, key=lambda p: (p.count("/"), p)):
            prior = index.get(path)
            try:
                st: os.stat_result | None = os.lstat(f"{top}/{path}")
            except (FileNotFoundError, NotADirectoryError):
                st = None
            if (
                prior is not None
                and stat.S_ISDIR(prior[1])
                and (st is None or not stat.S_ISDIR(st.st_mode) or st.st_ino != prior[0])
            ):
                prefix = path + "/"
                for stale in [p for p in index if p.startswith(prefix)]:
                    del index[stale]
            if st is None:
                index.pop(path, None)
            else:
                index[path] = _key(st)
        self._upper_index = current

    def refresh(self, paths: Iterable[str]) -> None:
        """Re-index ``paths`` (and their parents) after a step that knows what it wrote."""
        if self.upper is not None:  # what the step wrote is in the upper directory
            self._follow_upper(self.index)
            return
        top = os.fspath(self.root)
        for raw in paths:
            rel = "/".join(p for p in raw.split("/") if p and p != ".")
            if not rel or self.ignore.skips(rel):
                continue
            prefix = rel + "/"
            for stale in [p for p in self.index if p.startswith(prefix)]:
                del self.index[stale]
            parts = rel.split("/")
            for depth in range(1, len(parts) + 1):
                sub = "/".join(parts[:depth])
                try:
                    st = os.lstat(f"{top}/{sub}")
                except FileNotFoundError:
                    self.index.pop(sub, None)
                    break
                self.index[sub] = _key(st)
            else:
                if stat.S_ISDIR(self.index[rel][1]):
                    self.index.update(scan(self.root, self.ignore, under=rel))
