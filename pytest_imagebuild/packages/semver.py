"""Semantic Versioning 2.0.0 precedence, as npm orders package versions.

major.minor.patch compare as numbers; a pre-release (``-alpha.1``) sorts before its
release, its dot-separated identifiers compare as numbers when numeric, as ASCII
otherwise, numeric before alphanumeric, and a longer list wins when all else is equal;
build metadata (``+build``) is ignored. A leading ``v`` or ``=`` is allowed, as npm does.
"""

from __future__ import annotations

import re

__all__ = ["compare_semver", "parse_semver"]

NUMBER = r"0|[1-9]\d*"
IDENT = r"[0-9A-Za-z-]+"
SEMVER = re.compile(
    rf"[v=]?\s*({NUMBER})\.({NUMBER})\.({NUMBER})"
    rf"(?:-({IDENT}(?:\.{IDENT})*))?(?:\+({IDENT}(?:\.{IDENT})*))?"
)

Key = tuple[tuple[int, int, int], tuple[tuple[int, int | str], ...] | None]


def parse_semver(text: str) -> Key:
    """A sort key for a semver string; ValueError if it is not one."""
    match = SEMVER.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a semver version: {text!r}")
    core = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    pre = match.group(4)
    if pre is None:
        return core, None
    idents: list[tuple[int, int | str]] = []
    for ident in pre.split("."):
        if ident.isdigit():
            if len(ident) > 1 and ident[0] == "0":
                raise ValueError(f"not a semver version: {text!r} (leading zero in {ident!r})")
            idents.append((0, int(ident)))
        else:
            idents.append((1, ident))
    return core, tuple(idents)


def compare_semver(a: str, b: str) -> int:
    (core_a, pre_a), (core_b, pre_b) = parse_semver(a), parse_semver(b)
    if core_a != core_b:
        return 1 if core_a > core_b else -1
    if pre_a == pre_b:
        return 0
    if pre_a is None or pre_b is None:
        return 1 if pre_a is None else -1
    return 1 if pre_a > pre_b else -1
