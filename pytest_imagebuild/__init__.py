"""pytest-imagebuild: build Dockerfiles without a daemon and test what is inside images.

The package holds no assert statements, so pytest need not rewrite it: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_imagebuild.errors import (
    BuildError,
    ContainerError,
    ContextError,
    DockerError,
    DockerfileError,
    ImageBuildError,
    ImageFormatError,
    Location,
    ParityError,
    RegistryError,
    SandboxError,
    UsageError,
)

if TYPE_CHECKING:
    from pytest_imagebuild.diff import FieldChange, ImageDiff, PackageChange, PathChange, PathEntry
    from pytest_imagebuild.efficiency import Efficiency, analyze_efficiency
    from pytest_imagebuild.image import (
        File,
        Healthcheck,
        HistoryEntry,
        Image,
        Layer,
        Mode,
        RunResult,
    )
    from pytest_imagebuild.packages import Package, Packages
    from pytest_imagebuild.plugin.assertions import (
        assert_env,
        assert_file,
        assert_layers,
        assert_no_files,
    )
    from pytest_imagebuild.plugin.baselines import assert_matches_baseline
    from pytest_imagebuild.plugin.commands import assert_command
    from pytest_imagebuild.plugin.efficiency_assertions import assert_efficiency
    from pytest_imagebuild.plugin.factory import ImageFactory
    from pytest_imagebuild.plugin.package_assertions import assert_no_packages, assert_package
    from pytest_imagebuild.plugin.sources import BuildSpec

# Exports are imported when first named: the command imports only the builder, and a
# library user who only opens images does not pay for importing pytest. ``diff`` itself
# stays pytest_imagebuild.diff.diff: a function here would hide the package.
_LAZY = {
    **dict.fromkeys(
        ("FieldChange", "ImageDiff", "PackageChange", "PathChange", "PathEntry"), "diff"
    ),
    **dict.fromkeys(("Efficiency", "analyze_efficiency"), "efficiency"),
    **dict.fromkeys(
        ("File", "Healthcheck", "HistoryEntry", "Image", "Layer", "Mode", "RunResult"), "image"
    ),
    **dict.fromkeys(("Package", "Packages"), "packages"),
    **dict.fromkeys(
        ("assert_env", "assert_file", "assert_layers", "assert_no_files"), "plugin.assertions"
    ),
    "assert_matches_baseline": "plugin.baselines",
    "assert_command": "plugin.commands",
    "assert_efficiency": "plugin.efficiency_assertions",
    "ImageFactory": "plugin.factory",
    "assert_no_packages": "plugin.package_assertions",
    "assert_package": "plugin.package_assertions",
    "BuildSpec": "plugin.sources",
}


def __getattr__(name: str) -> Any:
    if name == "diff":  # ``pytest_imagebuild.diff.diff`` after a bare ``import pytest_imagebuild``
        return importlib.import_module("pytest_imagebuild.diff")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_imagebuild' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pytest_imagebuild.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "diff"})


__all__ = [
    "BuildError",
    "BuildSpec",
    "ContainerError",
    "ContextError",
    "DockerError",
    "DockerfileError",
    "Efficiency",
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
    "Package",
    "PackageChange",
    "Packages",
    "ParityError",
    "PathChange",
    "PathEntry",
    "RegistryError",
    "RunResult",
    "SandboxError",
    "UsageError",
    "analyze_efficiency",
    "assert_command",
    "assert_efficiency",
    "assert_env",
    "assert_file",
    "assert_layers",
    "assert_matches_baseline",
    "assert_no_files",
    "assert_no_packages",
    "assert_package",
]
