"""``diff(a, b)``: everything that differs between two opened images."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_imagebuild.diff.files import compare_files
from pytest_imagebuild.diff.ignore import Rules
from pytest_imagebuild.diff.inventory import image_inventory
from pytest_imagebuild.diff.meta import compare_fields, config_fields, history_fields, layer_fields
from pytest_imagebuild.diff.model import ImageDiff
from pytest_imagebuild.image import Image

__all__ = ["diff"]


def diff(a: Image, b: Image, *, ignore: Iterable[str] = (), semantic: bool = False) -> ImageDiff:
    """What changed from ``a`` (old) to ``b`` (new).

    ``ignore``: path globs (starting with "/") and field names, see ``Rules``;
    ``semantic`` also drops timestamps and the layer bytes' encoding (diff_ids,
    digests, sizes), so images of the same Dockerfile from different builders compare
    by what they hold."""
    rules = Rules.parse(ignore, semantic)
    added, removed, changed = compare_files(image_inventory(a), image_inventory(b), rules)
    return ImageDiff(
        added=added,
        removed=removed,
        changed=changed,
        config=compare_fields(config_fields(a), config_fields(b), rules),
        layers=compare_fields(layer_fields(a), layer_fields(b), rules),
        history=compare_fields(history_fields(a), history_fields(b), rules),
    )
