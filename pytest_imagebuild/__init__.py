"""pytest-imagebuild: build Dockerfiles without a daemon and test what is inside images.

The package holds no assert statements, so pytest need not rewrite it: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

# ``diff`` itself stays pytest_imagebuild.diff.diff: a function here would hide the package.
from pytest_imagebuild.diff import FieldChange, ImageDiff, PathChange, PathEntry
from pytest_imagebuild.errors import (
    BuildError,
    ContextError,
    DockerfileError,
    ImageBuildError,
    ImageFormatError,
    Location,
    RegistryError,
    SandboxError,
    UsageError,
)
from pytest_imagebuild.image import File, Healthcheck, HistoryEntry, Image, Layer, Mode
from pytest_imagebuild.plugin.assertions import (
    assert_env,
    assert_file,
    assert_layers,
    assert_no_files,
)
from pytest_imagebuild.plugin.baselines import assert_matches_baseline
from pytest_imagebuild.plugin.factory import ImageFactory
from pytest_imagebuild.plugin.sources import BuildSpec

__all__ = [
    "BuildError",
    "BuildSpec",
    "ContextError",
    "DockerfileError",
    "FieldChange",
    "File",
    "Healthcheck",
    "HistoryEntry",
    "Image",
    "ImageBuildError",
    "ImageDiff",
    "ImageFactory",
    "ImageFormatError",
    "Layer",
    "Location",
    "Mode",
    "PathChange",
    "PathEntry",
    "RegistryError",
    "SandboxError",
    "UsageError",
    "assert_env",
    "assert_file",
    "assert_layers",
    "assert_matches_baseline",
    "assert_no_files",
]
