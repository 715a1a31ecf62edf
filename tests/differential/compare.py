"""What the differential tests compare between two images, and how they report it.

Files (merged view and each layer's own entries) go through ``tests.reference.listing``:
path, type, permission bits, uid, gid, size, sha256, link target and xattrs; never mtimes.
Hardlink groups per layer come from the layer tars (``hardlinks.py``).
Config and history go through ``tests.builder.build_support`` (history with the COPY/ADD
source hashes masked, for the reason given there).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_imagebuild.image import Image
from tests.builder.build_support import config_view, history_view
from tests.differential import hardlinks
from tests.differential.quirks import NO_QUIRK, Quirk
from tests.reference.listing import Entry, describe_differences, image_listing

CONFIG_EXTRAS = ("author", "os", "architecture")


def full_config(image: Image) -> dict[str, Any]:
    view = config_view(image)
    for key in CONFIG_EXTRAS:
        view[key] = image.config.get(key)
    return view


def _values(title: str, expected: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    lines = [
        f"  {key}: expected {expected.get(key)!r}\n  {' ' * len(key)}  got      {got.get(key)!r}"
        for key in sorted(expected.keys() | got.keys())
        if expected.get(key) != got.get(key)
    ]
    return [f"{title}:", *lines] if lines else []


def _history(expected: Image, got: Image) -> list[str]:
    exp, act = history_view(expected), history_view(got)
    if exp == act:
        return []
    lines = ["history (created_by, empty_layer):"]
    for i in range(max(len(exp), len(act))):
        e = exp[i] if i < len(exp) else None
        a = act[i] if i < len(act) else None
        mark = "  " if e == a else "!="
        lines.append(f"  {mark} [{i}] expected {e!r}")
        if e != a:
            lines.append(f"          got      {a!r}")
    return lines


def _files(title: str, expected: dict[str, Entry], got: dict[str, Entry]) -> list[str]:
    report = describe_differences(expected, got)
    if not report:
        return []
    return [f"{title}:", *("  " + line for line in report.splitlines())]


def differences(
    expected: Image,
    got: Image,
    quirk: Quirk = NO_QUIRK,
    archives: tuple[Path, Path] | None = None,
) -> list[str]:
    """Every difference of ``got`` from ``expected``; ``quirk`` applies declared artefacts.

    ``archives`` (the two docker-archive tarballs) adds the per-layer hardlink groups.
    """
    adjust = quirk.adjust
    report: list[str] = []
    report += _files(
        "merged files",
        adjust("merged", image_listing(expected.walk())),
        adjust("merged", image_listing(got.walk())),
    )
    report += _values("config", full_config(expected), full_config(got))
    report += _history(expected, got)
    n_exp, n_got = len(expected.layers), len(got.layers)
    if n_exp != n_got:
        report.append(f"layer count: expected {n_exp} got {n_got}")
        report.append("  expected layers: " + _layer_titles(expected))
        report.append("  got layers:      " + _layer_titles(got))
    else:
        for index in range(n_exp):
            report += _files(
                f"layer {index} ({_created_by(expected, index)}) files",
                adjust(f"layer{index}", image_listing(expected.layer_files(index))),
                adjust(f"layer{index}", image_listing(got.layer_files(index))),
            )
        if archives is not None:
            report += hardlinks.describe(
                quirk.adjust_groups(hardlinks.hardlink_groups(archives[0])),
                quirk.adjust_groups(hardlinks.hardlink_groups(archives[1])),
            )
    return report


def _created_by(image: Image, index: int) -> str:
    text = image.layers[index].created_by or "?"
    return text if len(text) < 70 else text[:67] + "..."


def _layer_titles(image: Image) -> str:
    return " | ".join(_created_by(image, i) for i in range(len(image.layers)))
