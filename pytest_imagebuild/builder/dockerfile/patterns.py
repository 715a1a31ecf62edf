"""Shell glob patterns (``*``, ``?``, ``\\*``) for ``${v#p}``, ``${v%p}`` and ``${v/p/r}``.

Patterns come from the Dockerfile, so they run on the linear-time engine of
``pytest_imagebuild.regex``, never on a backtracking one.
"""

from __future__ import annotations

import re

from pytest_imagebuild.regex import Regex

__all__ = ["replace", "to_regex", "trim_prefix", "trim_suffix"]

_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


def to_regex(pattern: str, *, greedy: bool, anchored: bool) -> Regex:
    """Translate a shell pattern; raises ValueError for an escape other than ``\\*``,
    ``\\?`` or ``\\\\`` (``\\}`` and ``\\/`` drop the backslash)."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        pos += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[pos] if pos < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise ValueError(f"invalid pattern ({pattern}) in substitution: invalid escape")
            out.append("\\" + following)
            pos += 1
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(re.escape(ch) if not ch.isalnum() else ch)
    return Regex("".join(out))


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    span = to_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[span[1] :] if span else value


def _reverse_pattern(pattern: str) -> str:
    pieces: list[str] = []
    pos = 0
    while pos < len(pattern):
        if pattern[pos] == "\\" and pos + 1 < len(pattern):
            pieces.append(pattern[pos : pos + 2])
            pos += 2
        else:
            pieces.append(pattern[pos])
            pos += 1
    return "".join(reversed(pieces))


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    return trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def replace(pattern: str, replacement: str, value: str, replace_all: bool) -> str:
    regex = to_regex(pattern, greedy=True, anchored=False)
    return regex.replace(replacement, value, count=0 if replace_all else 1)
