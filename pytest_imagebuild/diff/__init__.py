"""Image diff: what differs between two images, as frozen values (the read side only)."""

from __future__ import annotations

from pytest_imagebuild.diff.compare import diff
from pytest_imagebuild.diff.ignore import Rules
from pytest_imagebuild.diff.model import FieldChange, ImageDiff, PathChange, PathEntry

__all__ = ["FieldChange", "ImageDiff", "PathChange", "PathEntry", "Rules", "diff"]
