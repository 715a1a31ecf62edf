"""Version ordering per ecosystem: Debian's (python-debian), PEP 440's (packaging), and
rpm's, apk's and npm's semver, written here (``rpmversion``, ``apkversion``, ``semver``)."""

from __future__ import annotations

from collections.abc import Callable

from debian.debian_support import version_compare
from packaging.version import InvalidVersion, Version

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.packages.apkversion import compare_apk
from pytest_imagebuild.packages.rpmversion import compare_evr
from pytest_imagebuild.packages.semver import compare_semver

__all__ = ["compare_versions"]


def _debian(a: str, b: str) -> int:
    try:
        result = version_compare(a, b)
    except ValueError as exc:
        raise UsageError(f"not a Debian version: {exc}") from None
    return (result > 0) - (result < 0)


def _pep440(a: str, b: str) -> int:
    try:
        left, right = Version(a), Version(b)
    except InvalidVersion as exc:
        raise UsageError(f"not a PEP 440 version: {exc}") from None
    return (left > right) - (left < right)


def _checked(name: str, compare: Callable[[str, str], int]) -> Callable[[str, str], int]:
    def checked(a: str, b: str) -> int:
        try:
            return compare(a, b)
        except ValueError as exc:
            raise UsageError(str(exc), hint=f"{name} versions are compared") from None

    return checked


COMPARERS = {
    "dpkg": _debian,
    "python": _pep440,
    "rpm": compare_evr,
    "apk": _checked("apk", compare_apk),
    "npm": _checked("npm (semver)", compare_semver),
}


def compare_versions(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, equal to or after ``b`` in the ordering
    of ``ecosystem`` ("dpkg": epoch, upstream and revision with ``~`` first; "python":
    PEP 440; "rpm": epoch, then rpmvercmp on version and release; "apk": apk's order;
    "npm": semver precedence)."""
    compare = COMPARERS.get(ecosystem)
    if compare is None:
        raise UsageError(
            f"no version ordering for {ecosystem!r} packages",
            hint=f"min_version and max_version work for {', '.join(sorted(COMPARERS))};"
            " use version= for an exact match",
        )
    return compare(a, b)
