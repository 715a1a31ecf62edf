"""Layer efficiency: dive's questions (wasted bytes, files overwritten or deleted in later
layers, per-layer sizes, the efficiency score) answered from an opened ``Image``."""

from __future__ import annotations

from pytest_imagebuild.efficiency.analysis import (
    Copy,
    Efficiency,
    LayerSize,
    WastedPath,
    analyze_efficiency,
)
from pytest_imagebuild.efficiency.rules import Rules, parse_rules, read_dive_ci

__all__ = [
    "Copy",
    "Efficiency",
    "LayerSize",
    "Rules",
    "WastedPath",
    "analyze_efficiency",
    "parse_rules",
    "read_dive_ci",
]
