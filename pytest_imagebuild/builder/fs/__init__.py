"""The builder's filesystem half: apply layers, find changes, write layers."""

from __future__ import annotations

from .applier import UnpackReport
from .layer import Entry, write_layer, write_layer_from_entries
from .paths import resolve_in_root
from .skipped import Skipped
from .snapshot import Changes, IgnoreList, Snapshotter, diff, scan
from .tarstream import LayerBlob
from .unpack import unpack_layer

__all__ = [
    "Changes",
    "Entry",
    "IgnoreList",
    "LayerBlob",
    "Skipped",
    "Snapshotter",
    "UnpackReport",
    "diff",
    "resolve_in_root",
    "scan",
    "unpack_layer",
    "write_layer",
    "write_layer_from_entries",
]
