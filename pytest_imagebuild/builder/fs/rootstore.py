"""Unpacked base images kept across builds, for stage roots to mount as overlay lowers.

``<cache dir>/roots/`` holds one directory per chain of base layers, named by the sha256 of
their digests, made under a temp name (``.<name>.tmp-<pid>-<random>``) and renamed when
whole: a build that dies mid-unpack leaves only a temp directory, which no build trusts and
the next eviction removes once its maker is gone. Nothing ever writes into a stored root
(stages write to their own overlay upper directories).

Each entry has a lock file ``<name>.lock``: a build holds it shared for as long as it uses
the entry, eviction takes it exclusively without waiting, so nothing in use is removed. The
lock file's mtime is the entry's last use; entries beyond the size limit go oldest first.
Lock files stay (a lock file removed while another process waits on it would let two
holders disagree). Sizes are the unpacked file bytes plus a block per member, kept in
``<name>.size``. A store made by another uid (root's, opened rootless, or the reverse) is
not used: its owners would read wrong through the user namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .skipped import Skipped
from .unpack import unpack_layer

__all__ = ["RootStore", "StoreUsage", "parse_size"]

_BLOCK = 4096
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``10GB``, ``512m``, ``0`` -> bytes (binary units; a trailing ``b``/``ib`` optional)."""
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    number = raw.rstrip("kmgt")
    unit = raw[len(number) :]
    if not number.isdigit() or unit not in _UNITS:
        raise ValueError(f"invalid size {text!r}: a number with an optional K, M, G or T")
    return int(number) * _UNITS[unit]


@dataclass(frozen=True)
class StoreUsage:
    entries: int
    bytes: int


class RootStore:
    """The store at ``root``, bounded to ``limit`` bytes; use ``open``."""

    def __init__(self, root: Path, limit: int, log: Callable[[str], None]) -> None:
        self.root = root
        self.limit = limit
        self._log = log
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()  # stage threads of one build acquire at once

    @classmethod
    def open(cls, root: Path, limit: int, log: Callable[[str], None]) -> RootStore | None:
        """The store, or None (logged) when it belongs to another uid or cannot be made."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            owner = root.stat().st_uid
        except OSError as exc:
            log(f"root store {root}: not used: {exc}\n")
            return None
        if owner != os.geteuid():
            log(f"root store {root}: not used: it belongs to uid {owner}, not {os.geteuid()}\n")
            return None
        return cls(root, limit, log)

    def acquire(
        self, digests: Sequence[str], layers: Sequence[Path], skipped: Skipped | None = None
    ) -> Path:
        """The unpacked root of ``layers`` (unpacked here first if no build kept it), held
        until ``close``. What unpacking could not apply is kept with the entry and given to
        ``skipped`` on every use."""
        name = hashlib.sha256("\n".join(digests).encode()).hexdigest()
        with self._lock:
            if name not in self._held:
                fd = os.open(self.root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_SH)
                os.utime(fd)
                self._held[name] = fd
        path = self.root / name
        if path.is_dir():
            self._log(f"root store: base {name[:12]} reused\n")
            if skipped is not None:
                _read_skipped(self.root / f"{name}.skipped").replay(skipped)
            return path
        tmp = self.root / f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        os.chmod(tmp, 0o755)  # noqa: S103 - a root directory's usual mode
        size = 0
        self._log(f"root store: unpacking {len(layers)} layers of base {name[:12]}\n")
        mine = Skipped()
        try:
            for layer in layers:
                report = unpack_layer(layer, tmp, skipped=mine)
                size += report.bytes + report.members * _BLOCK
            (self.root / f"{name}.size").write_text(str(size))
            (self.root / f"{name}.skipped").write_text(json.dumps(mine.items))
            os.rename(tmp, path)
            if skipped is not None:
                mine.replay(skipped)
        except OSError:
            if not path.is_dir():  # another build renamed its copy first: use that
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    def close(self) -> None:
        """Release what this build held, then evict down to the limit."""
        for fd in self._held.values():
            os.close(fd)
        self._held.clear()
        self.evict(self.limit)

    def usage(self) -> StoreUsage:
        sizes = [size for _, size, _ in self._entries()]
        return StoreUsage(len(sizes), sum(sizes))

    def _entries(self) -> list[tuple[str, int, float]]:
        """(name, size, last use) of every whole entry, least recently used first."""
        found = []
        for path in self.root.iterdir():
            name = path.name
            if len(name) != 64 or not path.is_dir():
                continue
            try:
                size = int((self.root / f"{name}.size").read_text())
                used = (self.root / f"{name}.lock").stat().st_mtime
            except (OSError, ValueError):
                size, used = 0, 0.0
            found.append((name, size, used))
        return sorted(found, key=lambda entry: entry[2])

    def evict(self, keep: int) -> StoreUsage:
        """Remove entries nobody uses, oldest first, until at most ``keep`` bytes remain;
        and temp directories whose maker is gone. Returns what was removed."""
        removed = freed = 0
        for path in self.root.glob(".*.tmp-*"):
            pid = path.name.rsplit(".tmp-", 1)[1].split("-", 1)[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(path, ignore_errors=True)
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        for name, size, _ in entries:
            if total <= keep:
                break
            if name in self._held or not self._remove(name):
                continue
            total -= size
            removed += 1
            freed += size
        return StoreUsage(removed, freed)

    def _remove(self, name: str) -> bool:
        try:
            fd = os.open(self.root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # a build uses it
            trash = self.root / f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                os.rename(self.root / name, trash)
            except OSError:
                return False  # gone already (another pruner)
            with contextlib.suppress(FileNotFoundError):
                (self.root / f"{name}.size").unlink()
                (self.root / f"{name}.skipped").unlink(missing_ok=True)
        finally:
            os.close(fd)
        shutil.rmtree(trash, ignore_errors=True)  # out of the name's way: no one waits on it
        return True


def _read_skipped(path: Path) -> Skipped:
    """The items an entry's unpacking could not apply (none when the record is missing)."""
    found = Skipped()
    try:
        items = json.loads(path.read_text())
    except (OSError, ValueError):
        return found
    for item in items if isinstance(items, list) else []:
        if isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item):
            found.add(item[0], item[1], item[2])
    return found
