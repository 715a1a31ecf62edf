"""The diff as values: frozen dataclasses and tuples, so ``==`` and pytest's diffs work."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PACKAGE_CHANGES",
    "FieldChange",
    "ImageDiff",
    "PackageChange",
    "PathChange",
    "PathEntry",
    "Value",
]

# A compared value: text, a number, None, bytes (xattrs) or a tuple of text.
Value = str | int | bytes | tuple[str, ...] | None


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its dotted name (``mode``, ``config.env.PATH``) and both values."""

    field: str
    old: Value
    new: Value


@dataclass(frozen=True)
class PathEntry:
    """A path only one side has: what it is there."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    linked_to: str | None = None


@dataclass(frozen=True)
class PathChange:
    """A path both sides have, with every field that differs."""

    path: str
    changes: tuple[FieldChange, ...]


# What happened to a package, by its ecosystem's version order.
PACKAGE_CHANGES = ("added", "removed", "upgraded", "downgraded", "changed")


@dataclass(frozen=True)
class PackageChange:
    """One installed package that differs: ``change`` is "added", "removed", "upgraded",
    "downgraded" (by the ecosystem's version order) or "changed" (the same version, or two
    versions the ecosystem cannot order); ``old`` and ``new`` are the versions (None on the
    side that lacks it); ``fields`` are the other fields that differ (arch, source, license).
    ``place`` tells two copies of one name apart: the site-packages or node_modules folder
    (Python, npm), empty for the system package managers."""

    ecosystem: str
    name: str
    change: str
    old: str | None
    new: str | None
    fields: tuple[FieldChange, ...] = ()
    place: str = ""


@dataclass(frozen=True)
class ImageDiff:
    """What differs from image ``a`` (old) to image ``b`` (new); empty when they match.

    Sections: files (``added``, ``removed``, ``changed``), ``config``, ``layers``,
    ``history`` and ``packages``; each is a tuple sorted by path, field name, or
    ecosystem and package name."""

    added: tuple[PathEntry, ...] = ()
    removed: tuple[PathEntry, ...] = ()
    changed: tuple[PathChange, ...] = ()
    config: tuple[FieldChange, ...] = ()
    layers: tuple[FieldChange, ...] = ()
    history: tuple[FieldChange, ...] = ()
    packages: tuple[PackageChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.changed
            or self.config
            or self.layers
            or self.history
            or self.packages
        )

    def __bool__(self) -> bool:
        return not self.is_empty

    def __repr__(self) -> str:
        if self.is_empty:
            return "ImageDiff(empty)"
        parts = []
        for name in ("added", "removed", "changed"):
            items = getattr(self, name)
            if items:
                shown = ", ".join(item.path for item in items[:3])
                more = f", +{len(items) - 3} more" if len(items) > 3 else ""
                parts.append(f"{name} {len(items)} [{shown}{more}]")
        for name in ("config", "layers", "history"):
            items = getattr(self, name)
            if items:
                shown = ", ".join(item.field for item in items[:3])
                more = f", +{len(items) - 3} more" if len(items) > 3 else ""
                parts.append(f"{name} [{shown}{more}]")
        if self.packages:
            shown = ", ".join(f"{p.name} {p.change}" for p in self.packages[:3])
            more = f", +{len(self.packages) - 3} more" if len(self.packages) > 3 else ""
            parts.append(f"packages {len(self.packages)} [{shown}{more}]")
        return f"ImageDiff({'; '.join(parts)})"
