"""pytest-imagebuild: build Dockerfiles without a daemon and test what is inside images.

The package holds no assert statements, so pytest need not rewrite it: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

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
from pytest_imagebuild.image import File, Healthcheck, HistoryEntry, Image, Layer, Mode, RunResult
from pytest_imagebuild.plugin.assertions import (
    assert_env,
    assert_file,
    assert_layers,
    assert_no_files,
)
from pytest_imagebuild.plugin.commands import assert_command
from pytest_imagebuild.plugin.factory import ImageFactory
from pytest_imagebuild.plugin.sources import BuildSpec

__all__ = [
    "BuildError",
    "BuildSpec",
    "ContextError",
    "DockerfileError",
    "File",
    "Healthcheck",
    "HistoryEntry",
    "Image",
    "ImageBuildError",
    "ImageFactory",
    "ImageFormatError",
    "Layer",
    "Location",
    "Mode",
    "RegistryError",
    "RunResult",
    "SandboxError",
    "UsageError",
    "assert_command",
    "assert_env",
    "assert_file",
    "assert_layers",
    "assert_no_files",
]
