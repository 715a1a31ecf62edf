"""Python distributions: ``*.dist-info/METADATA`` and ``*.egg-info`` under site- and
dist-packages, wherever those are in the image."""

from __future__ import annotations

from email.parser import HeaderParser

from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.dbfile import find_paths, read_db
from pytest_imagebuild.packages.model import Package

__all__ = ["read_python"]

PATTERNS = (
    "**/site-packages/*.dist-info/METADATA",
    "**/dist-packages/*.dist-info/METADATA",
    "**/site-packages/*.egg-info/PKG-INFO",
    "**/dist-packages/*.egg-info/PKG-INFO",
    # an egg-info may also be a single file holding the PKG-INFO text
    "**/site-packages/*.egg-info",
    "**/dist-packages/*.egg-info",
)


def parse_metadata(text: str, path: str) -> Package | None:
    """One distribution from its core metadata (RFC 822 headers; the body is the
    description and is not read)."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    license_ = headers.get("License-Expression") or headers.get("License")
    if license_ is not None and ("\n" in license_ or len(license_) > 200):
        license_ = None  # some distributions paste the whole licence text here
    return Package(
        name=str(name).strip(),
        version=str(version).strip(),
        ecosystem="python",
        path=path,
        license=str(license_).strip() if license_ else None,
    )


def read_python(image: Image) -> list[Package]:
    found: list[Package] = []
    for path in find_paths(image, PATTERNS, ("/site-packages/", "/dist-packages/")):
        text = read_db(image, path)
        if text is None:
            continue
        package = parse_metadata(text, path)
        if package is not None:
            found.append(package)
    return found
