"""Installed packages read from an image alone, and version comparison per ecosystem."""

from __future__ import annotations

from pytest_imagebuild.packages.model import ECOSYSTEMS, Package, Packages
from pytest_imagebuild.packages.read import read_packages
from pytest_imagebuild.packages.versions import compare_versions

__all__ = ["ECOSYSTEMS", "Package", "Packages", "compare_versions", "read_packages"]
