"""Baselines as a syrupy extension: the same text format, syrupy's own update workflow.

``assert image == snapshot(extension_class=ImageExtension)`` or
``snapshot.use_extension(ImageExtension)``: syrupy stores one ``.image.txt`` file per
snapshot under ``__snapshots__/<test file>/``, ``--snapshot-update`` writes them, and a
failure shows the image diff instead of a line diff of the text. Needs syrupy installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from pytest_imagebuild.diff.render import diff_lines
from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.baselines import baseline_text, compare_text

__all__ = ["ImageExtension"]

UPDATE = "pytest --snapshot-update"


class ImageExtension(SingleFileSnapshotExtension):
    """Snapshots of an ``Image``: its baseline text (config, packages, file inventory)."""

    file_extension = "image.txt"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        if isinstance(data, Image):
            return baseline_text(data)
        if isinstance(data, str):
            return data
        raise TypeError(f"ImageExtension snapshots an Image, not {type(data).__name__}")

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        if not isinstance(snapshot_data, str) or not isinstance(serialized_data, str):
            return False
        try:
            return compare_text(snapshot_data, serialized_data, "the snapshot", (), UPDATE).is_empty
        except ImageBuildError:
            return False

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        try:
            result = compare_text(
                str(snapshot_data), str(serialized_data), "the snapshot", (), UPDATE
            )
        except ImageBuildError as exc:
            yield str(exc)
            return
        yield "the image does not match the snapshot:"
        yield from diff_lines(result, None)
