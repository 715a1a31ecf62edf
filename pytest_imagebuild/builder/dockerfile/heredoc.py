"""Here-documents: ``RUN <<EOF``, ``<<-EOF`` (strip leading tabs), quoted delimiters
(``<<"EOF"``, ``<<'EOF'``: no expansion) and several on one line (``COPY <<a <<b /d/``)."""

from __future__ import annotations

import re

from pytest_imagebuild.builder.dockerfile.expand import Lexer

__all__ = ["HEREDOC_KEYWORDS", "HeredocStart", "chomp", "heredocs_in_line"]

HEREDOC_KEYWORDS = frozenset(["RUN", "COPY", "ADD"])

_MARKER = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_LEADING_TABS = re.compile(r"(?m)^\t+")
_NO_ENV: dict[str, str] = {}


class HeredocStart:
    """A heredoc announced on an instruction line; the body follows the line."""

    __slots__ = ("chomp", "expand", "fd", "name")

    def __init__(self, name: str, *, expand: bool, chomp: bool, fd: int) -> None:
        self.name = name
        self.expand = expand
        self.chomp = chomp
        self.fd = fd


def _marker(word: str) -> HeredocStart | None:
    match = _MARKER.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    plain = Lexer(rest, _NO_ENV, skip_unset=True).run()[1]
    if len(plain) != 1:
        return None
    raw = Lexer(rest, _NO_ENV, raw_quotes=True, skip_unset=True).run()[1]
    if len(raw) != 1:
        raise ValueError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes_plain = plain[0].count("'") + plain[0].count('"')
    quotes_raw = raw[0].count("'") + raw[0].count('"')
    return HeredocStart(
        plain[0],
        expand=quotes_plain == quotes_raw,
        chomp=match.group(2) == "-",
        fd=int(match.group(1) or 0),
    )


def heredocs_in_line(line: str) -> list[HeredocStart]:
    """The heredocs a logical line announces, in order. Raises ValueError on bad quoting."""
    if "<<" not in line:
        return []
    try:
        words = Lexer(line, _NO_ENV, raw_quotes=True, raw_escapes=True).run()[1]
    except ValueError:
        words = []
    starts = []
    for word in words:
        start = _marker(word)
        if start is not None:
            starts.append(start)
    return starts


def chomp(body: str) -> str:
    """Remove leading tabs from every line, as ``<<-`` asks."""
    return _LEADING_TABS.sub("", body)
