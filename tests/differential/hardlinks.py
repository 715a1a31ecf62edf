"""Hardlink groups per layer, read from the layer tars of a docker-archive tarball.

``Image`` resolves hardlinks to the file they name, which is right for the merged view but
hides whether two paths are one inode. The differential tests also compare, layer by layer,
which paths a layer stores as one hardlink group.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from pathlib import Path

Groups = frozenset[frozenset[str]]


def _norm(name: str) -> str:
    return posixpath.normpath("/" + name)


def _layer_groups(layer: tarfile.TarFile) -> Groups:
    groups: dict[str, set[str]] = {}
    for member in layer:
        if member.islnk():
            target = _norm(member.linkname)
            groups.setdefault(target, {target}).add(_norm(member.name))
    return frozenset(frozenset(g) for g in groups.values())


def hardlink_groups(archive: Path) -> list[Groups]:
    """Per layer (in order), the sets of paths stored as one hardlink group."""
    found: list[Groups] = []
    with tarfile.open(archive, "r:") as outer:
        manifest = json.load(_member(outer, "manifest.json"))
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=_member(outer, name), mode="r:*") as layer:
                found.append(_layer_groups(layer))
    return found


def _member(tar: tarfile.TarFile, name: str) -> tarfile.ExFileObject:
    stream = tar.extractfile(name)
    if stream is None:
        raise AssertionError(f"{tar.name}: {name} is not a regular member")
    return stream


def describe(expected: list[Groups], got: list[Groups]) -> list[str]:
    if len(expected) != len(got):
        return []  # the layer count difference is reported elsewhere
    lines = []
    for index, (exp, act) in enumerate(zip(expected, got, strict=True)):
        if exp != act:
            lines.append(
                f"  layer {index}: expected {_show(exp)}\n  {' ' * len(str(index))}"
                f"        got      {_show(act)}"
            )
    return ["hardlink groups:", *lines] if lines else []


def _show(groups: Groups) -> str:
    return repr(sorted(sorted(g) for g in groups)) if groups else "none"
