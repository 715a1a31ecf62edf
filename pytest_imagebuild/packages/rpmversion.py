"""rpm's version ordering: ``rpmvercmp`` on each of epoch, version and release.

Written from rpm's documented rules: a version is split into runs of digits and runs of
letters, anything else separates them; digit runs compare as numbers, letter runs as
byte strings, and a digit run is newer than a letter run; ``~`` sorts before anything,
even the end of the string, and ``^`` sorts after the end but before anything else.
"""

from __future__ import annotations

import re

__all__ = ["compare_evr", "rpmvercmp"]

SEPARATORS = re.compile(r"[^A-Za-z0-9~^]*")
DIGITS = re.compile(r"[0-9]+")
LETTERS = re.compile(r"[A-Za-z]+")


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as version string ``a`` is older than, equal to or newer than ``b``."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i = SEPARATORS.match(a, i).end()  # type: ignore[union-attr]
        j = SEPARATORS.match(b, j).end()  # type: ignore[union-attr]
        x, y = a[i : i + 1], b[j : j + 1]
        if x == "~" or y == "~":
            if x != "~":
                return 1
            if y != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if x == "^" or y == "^":
            if not x:
                return -1
            if not y:
                return 1
            if x != "^":
                return 1
            if y != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (x and y):
            break
        pattern = DIGITS if x.isdigit() else LETTERS
        one, two = pattern.match(a, i), pattern.match(b, j)
        if two is None:  # a digit run is newer than a letter run
            return 1 if pattern is DIGITS else -1
        if one is None:
            return -1
        left, right = one.group(), two.group()
        if pattern is DIGITS:
            left, right = left.lstrip("0"), right.lstrip("0")
            if len(left) != len(right):
                return 1 if len(left) > len(right) else -1
        if left != right:
            return 1 if left > right else -1
        i, j = one.end(), two.end()
    if i >= len(a) and j >= len(b):
        return 0
    return 1 if i < len(a) else -1


def _split(evr: str) -> tuple[str, str, str]:
    epoch, colon, rest = evr.partition(":")
    if not colon or not epoch.isdigit():
        epoch, rest = "0", evr
    version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return epoch, version, release


def compare_evr(a: str, b: str) -> int:
    """Order ``[epoch:]version[-release]`` strings as rpm does (a missing epoch is 0)."""
    (e1, v1, r1), (e2, v2, r2) = _split(a), _split(b)
    if int(e1) != int(e2):
        return 1 if int(e1) > int(e2) else -1
    return rpmvercmp(v1, v2) or rpmvercmp(r1, r2)
