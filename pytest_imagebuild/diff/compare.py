"""``diff(a, b)``: everything that differs between two opened images."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_imagebuild.diff.files import compare_files
from pytest_imagebuild.diff.ignore import Rules
from pytest_imagebuild.diff.inventory import image_inventory
from pytest_imagebuild.diff.meta import compare_fields, config_fields, history_fields, layer_fields
from pytest_imagebuild.diff.model import ImageDiff, PackageChange, PathChange, PathEntry
from pytest_imagebuild.diff.packages import compare_packages, image_packages
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image

__all__ = ["SECTIONS", "diff", "sections"]

SECTIONS = ("files", "config", "layers", "history", "packages")


def sections(only: Iterable[str] | None) -> frozenset[str]:
    """The sections ``only`` names (all of them for None); an unknown one is a UsageError."""
    if only is None:
        return frozenset(SECTIONS)
    chosen = frozenset(part.strip() for part in only)
    unknown = sorted(chosen - set(SECTIONS))
    if unknown or not chosen:
        raise UsageError(
            f"unknown diff section {', '.join(unknown) or '(none)'}",
            hint=f"name one or more of {', '.join(SECTIONS)}",
        )
    return chosen


def diff(
    a: Image,
    b: Image,
    *,
    ignore: Iterable[str] = (),
    semantic: bool = False,
    only: Iterable[str] | None = None,
) -> ImageDiff:
    """What changed from ``a`` (old) to ``b`` (new).

    ``ignore``: path globs (starting with "/"), field names and package rules, see
    ``Rules``; ``semantic`` also drops timestamps and the layer bytes' encoding (diff_ids,
    digests, sizes), so images of the same Dockerfile from different builders compare
    by what they hold; ``only`` names the sections to compare (``SECTIONS``), the others
    are left empty and not read."""
    rules = Rules.parse(ignore, semantic)
    want = sections(only)
    added: tuple[PathEntry, ...] = ()
    removed: tuple[PathEntry, ...] = ()
    changed: tuple[PathChange, ...] = ()
    if "files" in want:
        added, removed, changed = compare_files(image_inventory(a), image_inventory(b), rules)
    packages: tuple[PackageChange, ...] = ()
    if "packages" in want and not rules.skips_packages:
        packages = compare_packages(image_packages(a), image_packages(b), rules)
    return ImageDiff(
        added=added,
        removed=removed,
        changed=changed,
        config=compare_fields(config_fields(a), config_fields(b), rules)
        if "config" in want
        else (),
        layers=compare_fields(layer_fields(a), layer_fields(b), rules) if "layers" in want else (),
        history=(
            compare_fields(history_fields(a), history_fields(b), rules) if "history" in want else ()
        ),
        packages=packages,
    )
