"""Regular expressions that run in linear time, for patterns that come from untrusted input.

The glob patterns of ``.dockerignore``, COPY sources and ``${v#p}`` come from the Dockerfile and
the context a merge request carries. Translated to Python's backtracking ``re``, a pattern such
as ``*a*a*a*a*a*b`` takes exponential time on a long name. RE2 (Google's engine, the semantics
of Go's ``regexp`` that docker's own pattern matcher uses) matches in time linear in the input,
so these patterns go through it; see ``docs/design/dependencies.md``.

Text that holds lone surrogates (file names that are not UTF-8, decoded with
``surrogateescape``) is matched with each such character read as U+FFFD, as Go reads each
invalid byte.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2  # type: ignore[import-untyped]

__all__ = ["Regex", "RegexSet"]

_SURROGATES = {code: 0xFFFD for code in range(0xD800, 0xE000)}


def _options() -> object:
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True
    return options


_OPTIONS = _options()


def _message(error: Exception) -> str:
    text = error.args[0] if error.args else error
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _retry_text(text: str) -> str:
    return text.translate(_SURROGATES)


class Regex:
    """One compiled expression; ``.`` matches newlines. Raises ValueError for bad syntax."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._compiled = re2.compile(_retry_text(pattern), _OPTIONS)
        except re2.error as error:
            raise ValueError(_message(error)) from None

    def fullmatch(self, text: str) -> bool:
        try:
            return self._compiled.fullmatch(text) is not None
        except UnicodeEncodeError:
            return self._compiled.fullmatch(_retry_text(text)) is not None

    def search(self, text: str) -> tuple[int, int] | None:
        """The span of the leftmost match, or None."""
        return self.search_from(text, 0)

    def search_from(self, text: str, pos: int) -> tuple[int, int] | None:
        """The span of the leftmost match that starts at or after ``pos``, or None."""
        try:
            found = self._compiled.search(text, pos)
        except UnicodeEncodeError:
            found = self._compiled.search(_retry_text(text), pos)
        return None if found is None else (found.start(), found.end())

    def replace(self, replacement: str, text: str, *, count: int = 0) -> str:
        """``text`` with matches (all when ``count`` is 0) replaced by ``replacement`` as is."""
        try:
            return str(self._compiled.sub(lambda _found: replacement, text, count=count))
        except UnicodeEncodeError:
            pass
        pieces: list[str] = []
        pos = 0
        for number, found in enumerate(self._compiled.finditer(_retry_text(text)), 1):
            pieces += [text[pos : found.start()], replacement]
            pos = found.end()
            if number == count:
                break
        pieces.append(text[pos:])
        return "".join(pieces)


class RegexSet:
    """Several expressions matched against a text in one linear pass (whole-text matches)."""

    __slots__ = ("_set", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._set = re2.Set.FullMatchSet(_OPTIONS)
        for pattern in self.patterns:
            Regex(pattern)  # the syntax error with its reason, which the set does not give
            self._set.Add(_retry_text(pattern))
        if self.patterns:
            self._set.Compile()

    def matching(self, text: str) -> frozenset[int]:
        """The indexes of the patterns that match the whole of ``text``."""
        if not self.patterns:
            return frozenset()
        try:
            found = self._set.Match(text)
        except UnicodeEncodeError:
            found = self._set.Match(_retry_text(text))
        return frozenset(found or ())
