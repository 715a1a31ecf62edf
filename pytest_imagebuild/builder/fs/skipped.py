"""What unpacking could not apply: xattrs, device nodes, member types, owners.

A build collects these across its layers and ADD archives (stages run in threads,
hence the lock) and reports one line per kind with a count and the first paths, in
the build log and in the plugin's terminal summary; nothing is dropped unsaid.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["Skipped"]

FIRST = 3  # paths named per kind


@dataclass
class Skipped:
    """Items not applied, by kind (``xattr trusted.note``, ``device node``, ...)."""

    counts: dict[str, int] = field(default_factory=dict)
    paths: dict[str, list[str]] = field(default_factory=dict)
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (path, kind, why)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, path: str, kind: str, why: str = "") -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            first = self.paths.setdefault(kind, [])
            if len(first) < FIRST:
                first.append(path)
            if len(self.items) < 1000:
                self.items.append((path, kind, why))

    def entries(self) -> list[str]:
        """Each item as ``path: kind (why)`` (the first thousand)."""
        with self.lock:
            return [f"{p}: {k}" + (f" ({w})" if w else "") for p, k, w in self.items]

    def replay(self, into: Skipped) -> None:
        """Add what this collector holds to ``into`` (a base unpacked by an earlier build)."""
        with self.lock:
            items = list(self.items)
        for path, kind, why in items:
            into.add(path, kind, why)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def lines(self) -> list[str]:
        """One line per kind: ``device node: 2 paths not applied (dev/null, dev/zero)``."""
        with self.lock:
            out = []
            for kind, count in sorted(self.counts.items()):
                named = ", ".join(self.paths[kind])
                more = ", ..." if count > len(self.paths[kind]) else ""
                noun = "path" if count == 1 else "paths"
                out.append(f"{kind}: {count} {noun} not applied ({named}{more})")
            return out
