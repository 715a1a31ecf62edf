"""Limits on tar archives read from untrusted input, shared by both halves.

The read side (layers of an image it opens) and the builder (ADD of a local
archive) refuse the same things: a stream that decompresses past ``ratio`` times
its compressed size once past ``floor`` bytes (a decompression bomb), more than
``members`` members, a member name or link target longer than ``path`` bytes, and
a PAX or GNU long-name record longer than ``record`` bytes (it is held in memory).
Each check returns what was exceeded, or None; each side raises its own error.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ArchiveLimits"]


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds for one archive; the defaults are generous for real layers."""

    ratio: float = 100.0
    floor: int = 1 << 30
    members: int = 2_000_000
    path: int = 4096
    record: int = 1 << 20

    def expansion(self, raw: int, out: int) -> str | None:
        """``out`` bytes decompressed from ``raw`` bytes: too many?"""
        if out > self.floor and out > raw * self.ratio:
            return (
                f"decompresses to more than {self.ratio:g}x its size "
                f"(and over {self.floor} bytes): refused as a decompression bomb"
            )
        return None

    def count(self, members: int) -> str | None:
        if members > self.members:
            return f"has more than {self.members} members"
        return None

    def name(self, name: str | bytes, what: str = "name") -> str | None:
        size = len(name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name)
        if size > self.path:
            return f"has a member {what} of {size} bytes (more than {self.path})"
        return None

    def meta(self, size: int) -> str | None:
        if size > self.record:
            return f"has a tar extended header of {size} bytes (more than {self.record})"
        return None
