"""The files section: added, removed and changed paths of two inventories."""

from __future__ import annotations

from pytest_imagebuild.diff.ignore import Rules
from pytest_imagebuild.diff.inventory import Entry, Inventory, capabilities
from pytest_imagebuild.diff.model import FieldChange, PathChange, PathEntry, Value

__all__ = ["compare_files"]

# The plain fields, in the order they are reported.
PLAIN = ("type", "mode", "uid", "gid", "size", "linked_to")


def _summary(path: str, e: Entry) -> PathEntry:
    return PathEntry(path, e.type, e.mode, e.uid, e.gid, e.size, e.linked_to)


def _xattr_changes(old: Entry, new: Entry) -> list[FieldChange]:
    a, b = dict(old.xattrs), dict(new.xattrs)
    out = []
    for name in sorted(a.keys() | b.keys()):
        if a.get(name) != b.get(name):
            out.append(FieldChange("xattrs." + name, a.get(name), b.get(name)))
    one, two = capabilities(old), capabilities(new)
    if one != two:
        out.append(FieldChange("capabilities", one, two))
    return out


def _changes(
    path: str, old: Entry, new: Entry, a: Inventory, b: Inventory, rules: Rules
) -> list[FieldChange]:
    out: list[FieldChange] = []
    for name in PLAIN:
        x: Value = getattr(old, name)
        y: Value = getattr(new, name)
        if x != y and not rules.skips_field(name, path):
            out.append(FieldChange(name, x, y))
    if old.mtime != new.mtime and not rules.skips_field("mtime", path):
        out.append(FieldChange("mtime", old.mtime, new.mtime))
    if old.xattrs != new.xattrs:
        out += [c for c in _xattr_changes(old, new) if not rules.skips_field(c.field, path)]
    same_bytes = old.key is not None and old.key == new.key
    if (
        old.type == new.type == "file"
        and old.size == new.size
        and not same_bytes
        and not rules.skips_field("sha256", path)
    ):
        one, two = a.sha256(path), b.sha256(path)
        if one != two:
            out.append(FieldChange("sha256", one, two))
    return out


def compare_files(
    a: Inventory, b: Inventory, rules: Rules
) -> tuple[tuple[PathEntry, ...], tuple[PathEntry, ...], tuple[PathChange, ...]]:
    """(added, removed, changed), each sorted by path."""
    old, new = a.entries, b.entries
    skip = rules.skips_path if rules.paths else None
    added = [_summary(p, new[p]) for p in new.keys() - old.keys() if not (skip and skip(p))]
    removed = [_summary(p, old[p]) for p in old.keys() - new.keys() if not (skip and skip(p))]
    changed = []
    for path, x in old.items():
        y = new.get(path)
        if y is None:
            continue
        # Equal metadata and the same bytes of a shared layer: nothing to look at.
        if x[:8] == y[:8] and (x.type != "file" or (x.key is not None and x.key == y.key)):
            continue
        if skip and skip(path):
            continue
        found = _changes(path, x, y, a, b, rules)
        if found:
            changed.append(PathChange(path, tuple(found)))
    added.sort(key=lambda e: e.path)
    removed.sort(key=lambda e: e.path)
    changed.sort(key=lambda c: c.path)
    return tuple(added), tuple(removed), tuple(changed)
