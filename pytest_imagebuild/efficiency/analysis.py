"""Layer efficiency of an image: dive's figures, reproduced, and corrected ones.

dive (``filetree/efficiency.go``, ``image/analysis.go``) walks each layer's leaf entries
and groups them by path. A path met more than once is an "inefficiency" whose waste is the
sum of every copy's size, the copy the image keeps included; a deleted file counts as a
copy of size 0; a deleted directory counts the sizes below it once, so it never lowers
the score. The score is the sum of each path's smallest copy over the sum of all copies.

The corrected figures count as waste exactly the bytes the layers ship that the merged
view does not show: copies overwritten later, files deleted (also through a deleted or
opaque parent directory), never the copy that is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pytest_imagebuild.efficiency.tree import PathTree
from pytest_imagebuild.image import Image

__all__ = ["Copy", "Efficiency", "LayerSize", "WastedPath", "analyze_efficiency"]

WHITEOUT = ".wh."


@dataclass(frozen=True)
class Copy:
    """One layer's part in a wasted path: "wrote" a copy later hidden, "kept" the copy
    the image shows, "deleted" it (``via`` is the whiteout's path: the file or a parent),
    or "replaced" it with a new entry."""

    layer: int
    action: str
    size: int
    created_by: str
    via: str = ""


@dataclass(frozen=True)
class WastedPath:
    """A path that costs bytes: ``wasted_bytes`` (corrected: hidden copies only) and
    ``dive_bytes`` (dive's cumulative size of every copy, 0 if dive does not list it)."""

    path: str
    wasted_bytes: int
    dive_bytes: int
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class LayerSize:
    """A layer's size as dive shows it (sum of its tar entries' sizes), the bytes of its
    files the merged view hides, and the instruction that made it."""

    index: int
    size: int
    wasted_bytes: int
    files: int
    created_by: str


@dataclass(frozen=True)
class Efficiency:
    """dive's figures (``score``, ``wasted_bytes``, ``user_wasted_percent``) and the
    corrected ones; ``user_size_bytes`` is every layer but the first, as dive counts."""

    score: float
    wasted_bytes: int
    user_wasted_percent: float
    corrected_score: float
    corrected_wasted_bytes: int
    corrected_user_wasted_percent: float
    size_bytes: int
    user_size_bytes: int
    layers: tuple[LayerSize, ...]
    wasted: tuple[WastedPath, ...] = field(repr=False)
    dive_skipped_layers: tuple[int, ...] = ()


def _ratio(part: int, whole: int) -> float:
    """Go's float division: 0/0 is NaN, x/0 is +Inf."""
    if whole:
        return part / whole
    return math.nan if part == 0 else math.inf


@dataclass
class _Path:
    cumulative: int = 0
    smallest: int = -1
    nodes: int = 0


Entries = list[tuple[str, str, int, str]]


def _layer_tree(entries: Entries) -> PathTree[tuple[str, int]]:
    """One layer as dive's tree holds it: a whiteout is a node named ".wh.<name>"; the
    opaque marker adds its parents only; a repeated path keeps its last payload."""
    tree: PathTree[tuple[str, int]] = PathTree()
    for path, kind, size, _ in entries:
        if kind == "opaque":
            tree.ensure(path)
        elif kind == "whiteout":
            head, _, name = path.rpartition("/")
            tree.put(f"{head}/{WHITEOUT}{name}", (kind, size))
        else:
            tree.put(path, (kind, size))
    return tree


def _real(path: str) -> str:
    head, _, name = path.rpartition("/")
    return f"{head}/{name.removeprefix(WHITEOUT)}" if name.startswith(WHITEOUT) else path


def _dive(layers: list[Entries]) -> tuple[dict[str, _Path], list[int]]:
    """dive's per-path statistics, and the layers whose walk dive gives up on (a
    whiteout for a path no earlier layer has ends dive's walk of that layer)."""
    stats: dict[str, _Path] = {}
    skipped: list[int] = []
    stacked: PathTree[tuple[bool, int]] = PathTree()  # (is_dir, size) of layers so far
    for index, entries in enumerate(layers):
        tree = _layer_tree(entries)
        for raw, payload in tree.leaves():
            kind, size = payload if payload is not None else ("", 0)
            path = _real(raw)
            if kind == "whiteout":
                if path not in stacked:
                    skipped.append(index)
                    break
                before = stacked.get(path)
                size = 0
                if before is not None and before[0]:
                    size = sum(v[1] for _, v in stacked.below(path) if v is not None)
            entry = stats.setdefault(path, _Path())
            entry.cumulative += size
            if entry.smallest < 0 or size < entry.smallest:
                entry.smallest = size
            entry.nodes += 1
        # Stack the layer: dive grafts in name order, so ".wh.x" goes before "x".
        nodes = [(raw, payload) for raw, payload in tree.below("/") if raw != "/"]
        for raw, payload in nodes:
            if payload is not None and payload[0] == "whiteout":
                stacked.remove(_real(raw))
        for raw, payload in nodes:
            if payload is None or payload[0] != "whiteout":
                kind, size = payload if payload is not None else ("", 0)
                stacked.put(raw, (kind == "dir", size))
    return stats, skipped


@dataclass
class _Stored:
    layer: int
    size: int
    fate: list[Copy] = field(default_factory=list)


def _merged(image: Image, layers: list[Entries]) -> tuple[list[tuple[str, _Stored]], set[int]]:
    """Every regular-file copy the layers ship, with what later layers did to it; the
    ids of the copies the merged view shows."""
    shipped: list[tuple[str, _Stored]] = []
    view: PathTree[_Stored] = PathTree()
    kinds: PathTree[str] = PathTree()

    def hide(path: str, layer: int, action: str, via: str) -> None:
        for _, stored in view.remove(path) if action != "opaque" else view.clear(path):
            how = "deleted" if action in ("whiteout", "opaque") else action
            stored.fate.append(Copy(layer, how, 0, image.layers[layer].created_by, via))

    for index, entries in enumerate(layers):
        for path, kind, _, _ in entries:  # deletions first, as the merged view applies them
            if kind in ("whiteout", "opaque"):
                hide(path, index, kind, path)
                if kind == "whiteout":
                    kinds.remove(path)
                else:
                    kinds.clear(path)
        for path, kind, size, link in entries:
            if kind in ("whiteout", "opaque"):
                continue
            if kind == "dir" and kinds.get(path) in (None, "dir"):
                kinds.put(path, kind)  # a directory over a directory keeps what is below
                continue
            target = view.get(link) if kind == "hardlink" else None
            hide(path, index, "replaced", path)
            kinds.put(path, kind, keep_children=False)
            if kind == "file":
                stored = _Stored(index, size)
                shipped.append((path, stored))
                view.put(path, stored)
            elif target is not None:
                view.put(path, target)  # a hardlink keeps its target's bytes in view
    kept = {id(stored) for _, stored in view.items()}
    return shipped, kept


def analyze_efficiency(image: Image) -> Efficiency:
    """Per-layer sizes, wasted bytes and paths, dive's score and the corrected one."""
    layers = [image.layer_entries(i) for i in range(len(image.layers))]
    stats, skipped = _dive(layers)
    shipped, kept = _merged(image, layers)
    created = [layer.created_by for layer in image.layers]

    copies: dict[str, list[Copy]] = {}
    hidden: dict[str, int] = {}
    layer_waste = [0] * len(layers)
    for path, stored in shipped:
        visible = id(stored) in kept
        action = "kept" if visible else "wrote"
        copies.setdefault(path, []).append(
            Copy(stored.layer, action, stored.size, created[stored.layer])
        )
        copies[path].extend(stored.fate)
        if not visible:
            hidden[path] = hidden.get(path, 0) + stored.size
            layer_waste[stored.layer] += stored.size
    dive_waste = {path: s.cumulative for path, s in stats.items() if s.nodes >= 2}
    wasted = [
        WastedPath(
            path,
            hidden.get(path, 0),
            dive_waste.get(path, 0),
            tuple(
                sorted(copies.get(path, ()), key=lambda c: (c.layer, c.action in ("wrote", "kept")))
            ),
        )
        for path in set(hidden) | {p for p, b in dive_waste.items() if b}
    ]
    wasted.sort(key=lambda w: (-max(w.wasted_bytes, w.dive_bytes), w.path))

    sizes = [sum(entry[2] for entry in entries) for entries in layers]
    size_bytes = sum(sizes)
    user_size = sum(sizes[1:])
    shipped_bytes = sum(stored.size for _, stored in shipped)
    hidden_bytes = sum(hidden.values())
    smallest = sum(s.smallest for s in stats.values())
    discovered = sum(s.cumulative for s in stats.values())
    dive_wasted = sum(dive_waste.values())
    return Efficiency(
        score=smallest / discovered if discovered else 1.0,
        wasted_bytes=dive_wasted,
        user_wasted_percent=_ratio(dive_wasted, user_size),
        corrected_score=(shipped_bytes - hidden_bytes) / shipped_bytes if shipped_bytes else 1.0,
        corrected_wasted_bytes=hidden_bytes,
        corrected_user_wasted_percent=_ratio(hidden_bytes, user_size),
        size_bytes=size_bytes,
        user_size_bytes=user_size,
        layers=tuple(
            LayerSize(
                i,
                sizes[i],
                layer_waste[i],
                sum(entry[1] == "file" for entry in layers[i]),
                created[i],
            )
            for i in range(len(layers))
        ),
        wasted=tuple(wasted),
        dive_skipped_layers=tuple(skipped),
    )
