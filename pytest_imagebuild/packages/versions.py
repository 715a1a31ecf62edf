"""Version ordering per ecosystem: Debian's (python-debian) and PEP 440's (packaging)."""

from __future__ import annotations

from debian.debian_support import version_compare
from packaging.version import InvalidVersion, Version

from pytest_imagebuild.errors import UsageError

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


COMPARERS = {"dpkg": _debian, "python": _pep440}


def compare_versions(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, equal to or after ``b`` in the ordering
    of ``ecosystem`` ("dpkg": epoch, upstream and revision with ``~`` first; "python":
    PEP 440)."""
    compare = COMPARERS.get(ecosystem)
    if compare is None:
        raise UsageError(
            f"no version ordering for {ecosystem!r} packages",
            hint=f"min_version and max_version work for {', '.join(sorted(COMPARERS))};"
            " use version= for an exact match",
        )
    return compare(a, b)
