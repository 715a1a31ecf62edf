"""npm packages: every ``node_modules/<name>/package.json`` (also ``@scope/name`` and
nested ``node_modules``), wherever a ``node_modules`` is in the image."""

from __future__ import annotations

import json
from typing import Any

from pytest_imagebuild.errors import ImageFormatError, Location
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.dbfile import find_paths, read_db
from pytest_imagebuild.packages.model import Package

__all__ = ["parse_package_json", "read_npm"]

PATTERNS = ("**/node_modules/*/package.json", "**/node_modules/@*/*/package.json")


def _license(data: dict[str, Any]) -> str | None:
    value = data.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if value is None and isinstance(data.get("licenses"), list):  # the old spelling
        kinds = [item.get("type") for item in data["licenses"] if isinstance(item, dict)]
        value = " OR ".join(str(kind) for kind in kinds if kind) or None
    return str(value) if isinstance(value, str) and value else None


def parse_package_json(text: str, path: str) -> Package | None:
    """One package from its ``package.json``; None when it names no name and version."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImageFormatError(f"bad JSON: {exc}", location=Location(path)) from None
    if not isinstance(data, dict):
        return None
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return Package(name=name, version=version, ecosystem="npm", path=path, license=_license(data))


def read_npm(image: Image) -> list[Package]:
    found: list[Package] = []
    for path in find_paths(image, PATTERNS, ("/node_modules/",)):
        text = read_db(image, path)
        package = parse_package_json(text, path) if text is not None else None
        if package is not None:
            found.append(package)
    return found
