"""Physical-line helpers: newlines, comments, whitespace and line continuations."""

from __future__ import annotations

import re

__all__ = [
    "continuation_pattern",
    "is_blank",
    "is_comment",
    "is_space",
    "split_lines",
    "strip_continuation",
    "trim_left",
    "trim_newline",
    "trim_space",
]

# Go's unicode.IsSpace for Latin-1; other code points defer to str.isspace.
_LATIN1_SPACE = frozenset(" \t\n\v\f\r\x85\xa0")
_SPACE_CHARS = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTINUATION = {
    "\\": re.compile(r"([^\\])\\[ \t]*$|^\\[ \t]*$"),
    "`": re.compile(r"([^`])`[ \t]*$|^`[ \t]*$"),
}


def is_space(ch: str) -> bool:
    if ch in _LATIN1_SPACE:
        return True
    return ord(ch) > 0xFF and ch.isspace()


def trim_left(text: str) -> str:
    return text.lstrip(_SPACE_CHARS)


def trim_space(text: str) -> str:
    return text.strip(_SPACE_CHARS)


def trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` keeping each line's ending (heredoc bodies need it)."""
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


def is_comment(line: str) -> bool:
    return trim_left(trim_newline(line)).startswith("#")


def is_blank(line: str) -> bool:
    return not trim_left(trim_newline(line))


def continuation_pattern(escape: str) -> re.Pattern[str]:
    return _CONTINUATION[escape]


def strip_continuation(line: str, pattern: re.Pattern[str]) -> tuple[str, bool]:
    """Remove a trailing continuation token: returns (line, continues).

    The token continues the line when it is the last non-blank character and is not
    itself preceded by the escape token (``foo \\\\`` ends the line), as Docker does.
    """
    match = pattern.search(line)
    if match is None:
        return line, False
    return line[: match.start()] + (match.group(1) or ""), True
