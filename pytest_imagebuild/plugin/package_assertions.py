"""Assertion helpers for installed packages, in the style of ``assertions``: one
AssertionError listing every mismatch."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import ECOSYSTEMS, Package, compare_versions
from pytest_imagebuild.plugin.assertions import _fail

__all__ = ["assert_no_packages", "assert_package"]


def _pick(image: Image, name: str, ecosystem: str | None) -> Package | None:
    packages = image.packages if ecosystem is None else image.packages.ecosystem(ecosystem)
    return packages.get(name)


def _similar(image: Image, name: str) -> list[str]:
    stem = name.split("-")[0][:4].lower()
    close = [str(p) for p in image.packages.every if stem and stem in p.name.lower()]
    return [f"installed packages like {name!r}:", *(f"  {c}" for c in close[:10])] if close else []


def assert_package(
    image: Image,
    name: str,
    *,
    version: str | None = None,
    min_version: str | None = None,
    max_version: str | None = None,
    ecosystem: str | None = None,
) -> Package:
    """Check that a package is installed, at ``version`` exactly or within
    ``min_version <= v <= max_version`` in its ecosystem's ordering.

    Without ``ecosystem`` the name is looked up dpkg first, then apk, then python.
    Returns the Package when everything matches.
    """
    __tracebackhide__ = True
    if ecosystem is not None and ecosystem not in ECOSYSTEMS:
        raise UsageError(f"assert_package: ecosystem must be one of {list(ECOSYSTEMS)}")
    package = _pick(image, name, ecosystem)
    title = f"package {name}" + (f" ({ecosystem})" if ecosystem else "")
    if package is None:
        counts = ", ".join(f"{len(image.packages.ecosystem(e))} {e}" for e in ECOSYSTEMS)
        raise _fail(
            title,
            ["installed: expected a package, found none"],
            [f"image packages: {counts}", *_similar(image, name)],
        )
    problems: list[str] = []
    if version is not None and package.version != version:
        problems.append(f"version: expected {version!r}, found {package.version!r}")
    for bound, limit, wrong in (("min_version", min_version, -1), ("max_version", max_version, 1)):
        if limit is None:
            continue
        if compare_versions(package.ecosystem, package.version, limit) == wrong:
            relation = ">=" if wrong < 0 else "<="
            problems.append(f"{bound}: expected {relation} {limit!r}, found {package.version!r}")
    if problems:
        raise _fail(title, problems, [f"read from {package.path}: {package}"])
    return package


def assert_no_packages(image: Image, *patterns: str, ecosystem: str | None = None) -> None:
    """Check that no installed package name matches any pattern (shell globs such as
    ``"*-dev"``), in every ecosystem or in ``ecosystem`` only."""
    __tracebackhide__ = True
    if not patterns:
        raise UsageError("assert_no_packages: give at least one package name or glob")
    if ecosystem is not None and ecosystem not in ECOSYSTEMS:
        raise UsageError(f"assert_no_packages: ecosystem must be one of {list(ECOSYSTEMS)}")
    problems = [
        f"{package} matches {pattern!r} (read from {package.path})"
        for package in image.packages.every
        if ecosystem is None or package.ecosystem == ecosystem
        for pattern in patterns
        if fnmatchcase(package.name, pattern)
    ]
    if problems:
        raise _fail("unexpected packages", problems)
