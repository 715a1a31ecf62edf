"""pytest-imagebuild: build Dockerfiles without a daemon and test what is inside images.

The package holds no assert statements, so pytest need not rewrite it: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# ``diff`` itself stays pytest_imagebuild.diff.diff: a function here would hide the package.
from pytest_imagebuild.diff import FieldChange, ImageDiff, PackageChange, PathChange, PathEntry
from pytest_imagebuild.efficiency import Efficiency, analyze_efficiency
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
from pytest_imagebuild.image import File, Healthcheck, HistoryEntry, Image, Layer, Mode, RunResult
from pytest_imagebuild.packages import Package, Packages

if TYPE_CHECKING:
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

# The pytest side is imported when first named, so the command (and a library user who
# only opens images) does not pay for importing pytest.
_PLUGIN = {
    "assert_env": "assertions",
    "assert_file": "assertions",
    "assert_layers": "assertions",
    "assert_no_files": "assertions",
    "assert_matches_baseline": "baselines",
    "assert_command": "commands",
    "assert_efficiency": "efficiency_assertions",
    "ImageFactory": "factory",
    "assert_no_packages": "package_assertions",
    "assert_package": "package_assertions",
    "BuildSpec": "sources",
}


def __getattr__(name: str) -> Any:
    module = _PLUGIN.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_imagebuild' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pytest_imagebuild.plugin.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PLUGIN})


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
