"""Digests of the files a step reads: content, relative path, mode, type and link target.

Never mtimes, never absolute paths: the same tree checked out elsewhere, or touched, hashes
the same. Owners are left out by default because files from the build context always land
as 0:0 (or as ``--chown`` says, and that flag is part of the instruction); pass
``owners=True`` for trees whose ownership is carried into the layer (a stage root).

A ``HashMemo`` may remember content hashes by (path, size, mtime_ns, ctime_ns, inode) so an
unchanged file is not read again; it only saves reading, it never enters a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from pytest_imagebuild.builder.fs import owners as file_owners
from pytest_imagebuild.errors import ContextError

from .store import write_atomic

__all__ = ["ContextHasher", "HashMemo", "Ignore"]

_CHUNK = 1024 * 1024
_RACY_SECONDS = 2.0  # files changed this recently may change again within the same mtime tick


class Ignore(Protocol):
    """``.dockerignore`` rules as the build context has them (PatternMatcher)."""

    def excluded(self, path: str) -> bool: ...

    def skipped_dir(self, path: str) -> bool: ...


class HashMemo:
    """Content hashes by stat identity, in one JSON file (temp name, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, list[int | str]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, list[int | str]]:
        if self._data is None:
            try:
                raw = json.loads(self.path.read_bytes())
                self._data = raw if isinstance(raw, dict) else {}
            except (OSError, ValueError):
                self._data = {}
        return self._data

    @staticmethod
    def _ident(st: os.stat_result) -> list[int | str]:
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]

    def get(self, path: str, st: os.stat_result) -> str | None:
        found = self._load().get(path)
        if isinstance(found, list) and found[:-1] == self._ident(st):
            return str(found[-1])
        return None

    def put(self, path: str, st: os.stat_result, digest: str) -> None:
        if time.time() - st.st_mtime < _RACY_SECONDS:
            return
        self._load()[path] = [*self._ident(st), digest]
        self._dirty = True

    def save(self) -> None:
        if self._dirty and self._data is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(self._data, separators=(",", ":")).encode())
            self._dirty = False


def _content(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(_CHUNK):
            digest.update(data)
    return digest.hexdigest()


class ContextHasher:
    """Hashes selected sources under ``root`` (the context, or any tree a step reads)."""

    def __init__(
        self, root: Path, *, ignore: Ignore | None = None, memo: HashMemo | None = None
    ) -> None:
        self.root = root
        self.ignore = ignore
        self.memo = memo

    def digest(self, sources: Sequence[str], *, owners: bool = False) -> str:
        """``sha256:`` over every entry of ``sources`` (relative paths; "." is the root).

        Sources are hashed in the order given (COPY's order matters); a directory is walked
        in sorted order, leaving out what the ignore rules exclude. A missing source raises
        ContextError.
        """
        digest = hashlib.sha256()
        for source in sources:
            rel = os.path.normpath(source.lstrip("/")).replace(os.sep, "/")
            if rel == ".." or rel.startswith("../"):
                raise ContextError(f"path {source!r} is outside {self.root}")
            digest.update(json.dumps(["source", rel]).encode() + b"\n")
            for record in self._source(rel, owners):
                digest.update(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        if self.memo is not None:
            self.memo.save()
        return "sha256:" + digest.hexdigest()

    def _source(self, rel: str, owners: bool) -> Iterator[list[object]]:
        host = str(self.root) if rel == "." else os.path.join(self.root, rel)
        try:
            st = os.lstat(host)
            if stat.S_ISLNK(st.st_mode):  # a named source is followed, as COPY does
                yield self._record(rel, host, st, owners)
                host = os.path.realpath(host)
                if not host.startswith(os.path.realpath(self.root) + os.sep):
                    raise ContextError(f"source {rel!r} links outside {self.root}")
                st = os.stat(host)
        except FileNotFoundError as exc:
            raise ContextError(
                f"cannot hash {rel!r}: not found in {self.root}",
                hint="COPY/ADD sources and bind-mount sources must exist",
            ) from exc
        yield self._record(rel, host, st, owners)
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk(rel, host, owners)

    def _walk(self, rel: str, host: str, owners: bool) -> Iterator[list[object]]:
        with os.scandir(host) as scan:
            names = sorted(entry.name for entry in scan)
        for name in names:
            child_rel = name if rel == "." else f"{rel}/{name}"
            child = os.path.join(host, name)
            st = os.lstat(child)
            is_dir = stat.S_ISDIR(st.st_mode)
            if self.ignore is not None:
                if is_dir and self.ignore.skipped_dir(child_rel):
                    continue
                if self.ignore.excluded(child_rel):
                    if is_dir:
                        yield from self._walk(child_rel, child, owners)
                    continue
            yield self._record(child_rel, child, st, owners)
            if is_dir:
                yield from self._walk(child_rel, child, owners)

    def _record(self, rel: str, host: str, st: os.stat_result, owners: bool) -> list[object]:
        mode = st.st_mode
        record: list[object] = [rel, stat.S_IFMT(mode), stat.S_IMODE(mode)]
        if owners:  # the image's owner, also where the user namespace could not give it
            record += list(file_owners.owner(host, st))
        if stat.S_ISREG(mode):
            found = self.memo.get(host, st) if self.memo is not None else None
            if found is None:
                found = _content(host)
                if self.memo is not None:
                    self.memo.put(host, st, found)
            record += [st.st_size, found]
        elif stat.S_ISLNK(mode):
            record.append(os.readlink(host))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            record.append(st.st_rdev)
        return record
