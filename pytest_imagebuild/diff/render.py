"""An ``ImageDiff`` as text (pytest's assertion style, the command's table) and as JSON.

JSON schema version 2: ``{"schema_version": 2, "same": bool, "added": [entry],
"removed": [entry], "changed": [{"path", "changes": [change]}], "config": [change],
"layers": [change], "history": [change], "packages": [package]}``; an entry has path,
type, mode (octal text), uid, gid, size, linked_to; a change has field, old, new (bytes as
hex text, tuples as lists, modes as octal text); a package has ecosystem, name, place,
change, old, new and fields ([change]). Version 1 was the same without "packages".
"""

from __future__ import annotations

import json
from typing import Any

from pytest_imagebuild.diff.model import (
    FieldChange,
    ImageDiff,
    PackageChange,
    PathChange,
    PathEntry,
    Value,
)

__all__ = ["SCHEMA_VERSION", "diff_lines", "diff_table", "package_text", "to_json"]

SCHEMA_VERSION = 2
GROUPS = (
    ("files added", "added"),
    ("files removed", "removed"),
    ("files changed", "changed"),
    ("config", "config"),
    ("layers", "layers"),
    ("history", "history"),
    ("packages", "packages"),
)


def show(value: Value, field: str = "") -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if field == "mode" and isinstance(value, int):
        return f"{value:04o}"
    if isinstance(value, tuple):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def change_text(change: FieldChange) -> str:
    return f"{change.field}: {show(change.old, change.field)} -> {show(change.new, change.field)}"


def entry_text(e: PathEntry) -> str:
    text = f"{e.path} ({e.type} {e.mode:04o} {e.uid}:{e.gid}"
    text += f" {e.size} bytes)" if e.type == "file" else ")"
    return text + (f" -> {e.linked_to}" if e.linked_to is not None else "")


def path_change_text(change: PathChange) -> str:
    return f"{change.path}: " + "; ".join(change_text(c) for c in change.changes)


def _package_head(p: PackageChange) -> str:
    return f"{p.ecosystem} {p.name}" + (f" [{p.place}]" if p.place else "")


def _versions(p: PackageChange) -> str:
    if p.change == "added":
        return f"{p.new} (added)"
    if p.change == "removed":
        return f"{p.old} (removed)"
    if p.old == p.new:
        return f"{p.old}"
    return f"{p.old} -> {p.new} ({p.change})"


def package_text(p: PackageChange) -> str:
    """``dpkg libc6: 2.36-9 -> 2.36-9+deb12u7 (upgraded)``, then any other field."""
    text = f"{_package_head(p)}: {_versions(p)}"
    return "; ".join([text, *(change_text(c) for c in p.fields)])


def _item_text(item: PathEntry | PathChange | FieldChange | PackageChange) -> str:
    if isinstance(item, PathEntry):
        return entry_text(item)
    if isinstance(item, PathChange):
        return path_change_text(item)
    if isinstance(item, PackageChange):
        return package_text(item)
    return change_text(item)


def diff_lines(result: ImageDiff, limit: int | None = 10) -> list[str]:
    """Grouped lines, smallest group first; at most ``limit`` items per group (None: all),
    then a line counting what was left out."""
    groups = [(title, getattr(result, name)) for title, name in GROUPS if getattr(result, name)]
    groups.sort(key=lambda group: len(group[1]))
    lines: list[str] = []
    for title, items in groups:
        lines.append(f"{title} ({len(items)}):")
        shown = items if limit is None else items[:limit]
        lines += ["  " + _item_text(item) for item in shown]
        if len(items) > len(shown):
            lines.append(f"  ... {len(items) - len(shown)} more {title} (-v or -vv shows more)")
    return lines


def diff_table(result: ImageDiff) -> str:
    """The command's text: one row per change, ``+`` added, ``-`` removed, ``~`` changed."""
    if result.is_empty:
        return "no differences\n"
    rows: list[tuple[str, str, str, str]] = []
    rows += [("+", e.path, "", entry_text(e)[len(e.path) + 1 :]) for e in result.added]
    rows += [("-", e.path, "", entry_text(e)[len(e.path) + 1 :]) for e in result.removed]
    for pc in result.changed:
        rows += [
            ("~", pc.path, c.field, f"{show(c.old, c.field)} -> {show(c.new, c.field)}")
            for c in pc.changes
        ]
    for name in ("config", "layers", "history"):
        for c in getattr(result, name):
            rows.append(("~", name, c.field, f"{show(c.old, c.field)} -> {show(c.new, c.field)}"))
    for p in result.packages:
        mark = {"added": "+", "removed": "-"}.get(p.change, "~")
        rows.append((mark, _package_head(p), "version", _versions(p)))
        rows += [
            ("~", _package_head(p), c.field, f"{show(c.old)} -> {show(c.new)}") for c in p.fields
        ]
    width = min(60, max(len(r[1]) for r in rows))
    fwidth = max(5, max(len(r[2]) for r in rows))
    out = [f"  {'WHAT':<{width}}  {'FIELD':<{fwidth}}  VALUE"]
    out += [f"{r[0]} {r[1]:<{width}}  {r[2]:<{fwidth}}  {r[3]}" for r in rows]
    counts = (
        f"{len(result.added)} added, {len(result.removed)} removed, "
        f"{len(result.changed)} changed paths; {len(result.config)} config, "
        f"{len(result.layers)} layer, {len(result.history)} history fields differ; "
        f"{len(result.packages)} packages changed"
    )
    return "\n".join([*out, counts]) + "\n"


def _json_value(value: Value, field: str) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return list(value)
    if field == "mode" and isinstance(value, int):
        return f"{value:04o}"
    return value


def _change(c: FieldChange) -> dict[str, Any]:
    old, new = _json_value(c.old, c.field), _json_value(c.new, c.field)
    return {"field": c.field, "old": old, "new": new}


def _entry(e: PathEntry) -> dict[str, Any]:
    return {
        "path": e.path,
        "type": e.type,
        "mode": f"{e.mode:04o}",
        "uid": e.uid,
        "gid": e.gid,
        "size": e.size,
        "linked_to": e.linked_to,
    }


def _package(p: PackageChange) -> dict[str, Any]:
    return {
        "ecosystem": p.ecosystem,
        "name": p.name,
        "place": p.place,
        "change": p.change,
        "old": p.old,
        "new": p.new,
        "fields": [_change(c) for c in p.fields],
    }


def to_json(result: ImageDiff) -> str:
    """Stable JSON (sorted keys, sorted items) of schema ``SCHEMA_VERSION``."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "same": result.is_empty,
        "added": [_entry(e) for e in result.added],
        "removed": [_entry(e) for e in result.removed],
        "changed": [
            {"path": pc.path, "changes": [_change(c) for c in pc.changes]} for pc in result.changed
        ],
        "config": [_change(c) for c in result.config],
        "layers": [_change(c) for c in result.layers],
        "history": [_change(c) for c in result.history],
        "packages": [_package(p) for p in result.packages],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
