"""Image diff: what differs between two images, as frozen values (the read side only)."""

from __future__ import annotations

from pytest_imagebuild.diff.compare import diff
from pytest_imagebuild.diff.ignore import Rules
from pytest_imagebuild.diff.model import (
    FieldChange,
    ImageDiff,
    PackageChange,
    PathChange,
    PathEntry,
)

__all__ = ["FieldChange", "ImageDiff", "PackageChange", "PathChange", "PathEntry", "Rules", "diff"]
