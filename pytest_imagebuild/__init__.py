"""pytest-imagebuild: build Dockerfiles without a daemon and test what is inside images."""

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

__all__ = [
    "BuildError",
    "ContextError",
    "DockerfileError",
    "ImageBuildError",
    "ImageFormatError",
    "Location",
    "RegistryError",
    "SandboxError",
    "UsageError",
]
