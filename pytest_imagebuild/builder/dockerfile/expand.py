"""Word expansion as Docker does it for Dockerfile arguments (not a full shell).

Handles ``$v``, ``${v}``, ``${v:-w}``, ``${v-w}``, ``${v:+w}``, ``${v+w}``, ``${v:?m}``,
``${v?m}``, ``${v#p}``, ``${v##p}``, ``${v%p}``, ``${v%%p}``, ``${v/p/r}``, ``${v//p/r}``,
single and double quotes and the escape token (``\\`` or a backtick).
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_imagebuild.builder.dockerfile.lines import is_space
from pytest_imagebuild.builder.dockerfile.patterns import replace, trim_prefix, trim_suffix
from pytest_imagebuild.errors import DockerfileError

__all__ = ["Lexer", "expand_heredoc", "expand_word", "split_words"]

_SPECIAL_PARAMS = frozenset("@*#?-$!0")

# Docker has no limit; Python's stack has one. Nesting beyond this is refused as an error.
MAX_NESTING = 100


class _Words:
    """Collects the words of a text: unquoted expansions split on blanks."""

    __slots__ = ("in_word", "length", "pieces", "words")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.pieces: list[str] = []  # of the current word, joined once: long words stay linear
        self.length = 0
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.length:
                self._end_word()
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.pieces.append(text)
        self.length += len(text)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def _end_word(self) -> None:
        self.words.append("".join(self.pieces))
        self.pieces.clear()
        self.length = 0
        self.in_word = False

    def result(self) -> list[str]:
        if self.length:
            self._end_word()
        return self.words


class Lexer:
    """One expansion pass over ``text``. Errors raise ValueError (message only)."""

    def __init__(
        self,
        text: str,
        env: Mapping[str, str],
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_quotes: bool = False,
        skip_unset: bool = False,
    ) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_quotes = skip_quotes
        self.skip_unset = skip_unset
        self.depth = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        if self.pos >= len(self.text):
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def run(self) -> tuple[str, list[str]]:
        """The whole text as one word, and as a list of words."""
        result, words, _ = self._until("")
        return result, words

    def _until(self, stops: str, raw_escapes: bool | None = None) -> tuple[str, list[str], str]:
        """Process up to (not including) one of ``stops``; returns the stop found."""
        saved = self.raw_escapes
        if raw_escapes is not None:
            self.raw_escapes = raw_escapes
        try:
            out: list[str] = []
            words = _Words()
            while self.pos < len(self.text):
                ch = self.text[self.pos]
                if stops and ch in stops:
                    return "".join(out), words.result(), ch
                if ch == "$":
                    value = self._dollar()
                    out.append(value)
                    words.add_string(value)
                elif ch in "'\"" and not self.skip_quotes:
                    value = self._single() if ch == "'" else self._double()
                    out.append(value)
                    words.add_raw(value)
                else:
                    self.pos += 1
                    if ch == self.escape:
                        if self.raw_escapes:
                            words.add_raw(ch)
                            out.append(ch)
                        if self.pos >= len(self.text):
                            break
                        ch = self.text[self.pos]
                        self.pos += 1
                        words.add_raw(ch)
                    else:
                        words.add_char(ch)
                    out.append(ch)
            if stops:
                raise ValueError(f"unexpected end of statement while looking for matching {stops}")
            return "".join(out), words.result(), ""
        finally:
            self.raw_escapes = saved

    def _single(self) -> str:
        quote = self._next()
        out = [quote] if self.raw_quotes else []
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ValueError("unexpected end of statement while looking for matching single-quote")
        out.append(self.text[self.pos : end])
        self.pos = end + 1
        if self.raw_quotes:
            out.append("'")
        return "".join(out)

    def _double(self) -> str:
        quote = self._next()
        out = [quote] if self.raw_quotes else []
        while True:
            ch = self._peek()
            if ch == "":
                raise ValueError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.pos += 1
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self.pos += 1
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self._peek()
                if following == "":
                    continue
                if following in ('"', "$", self.escape):
                    ch = self._next()
            out.append(ch)

    def _lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def _name(self) -> str:
        start = self.pos
        ch = self._peek()
        if ch and ch.isdecimal():
            while self._peek() and self._peek().isdecimal():
                self.pos += 1
            return self.text[start : self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            self.pos += 1
            return ch
        while (ch := self._peek()) and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def _dollar(self) -> str:
        self.pos += 1
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value = self._lookup(name)
            if value is None:
                return "$" + name if self.skip_unset else ""
            return value
        self.pos += 1
        ch = self._peek()
        if ch == "":
            raise ValueError("syntax error: missing '}'")
        if ch in "{}:":
            raise ValueError("syntax error: bad substitution")
        name = self._name()
        op = self._next()
        if op == "":
            raise ValueError("syntax error: missing '}'")
        if op == "}":
            value = self._lookup(name)
            if value is None:
                return "${" + name + "}" if self.skip_unset else ""
            return value
        if op == "/":
            return self._replace(name)
        colon = op == ":"
        if colon:
            op = self._next()
        if op not in ("-", "+", "?", "#", "%"):
            raise ValueError(f"unsupported modifier ({':' if colon else ''}{op}) in substitution")
        if colon and op in "#%":
            raise ValueError(f"unsupported modifier (:{op}) in substitution")
        word = self._braced_word("}", raw_escapes=op in "#%")
        self.pos += 1
        value = self._lookup(name)
        if value is None and self.skip_unset:
            return "${" + name + (":" if colon else "") + op + word + "}"
        unset = value is None or (colon and value == "")
        if op == "-":
            return word if unset else (value or "")
        if op == "+":
            return "" if unset else word
        if op == "?":
            if value is None:
                raise ValueError(f"{name}: {word or 'is not allowed to be unset'}")
            if unset:
                raise ValueError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(op)
        if greedy:
            word = word[1:]
        if op == "%":
            return trim_suffix(word, value or "", greedy)
        return trim_prefix(word, value or "", greedy)

    def _braced_word(self, stops: str, *, raw_escapes: bool) -> str:
        if self.depth >= MAX_NESTING:
            raise ValueError(f"substitutions nested more than {MAX_NESTING} deep")
        self.depth += 1
        try:
            word, _, _ = self._until(stops, raw_escapes)
        except ValueError:
            if self.pos >= len(self.text):
                raise ValueError("syntax error: missing '}'") from None
            raise
        finally:
            self.depth -= 1
        return word

    def _replace(self, name: str) -> str:
        replace_all = self._peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self._braced_word("/}", raw_escapes=True)
        replacement = ""
        if self._next() == "/":
            replacement = self._braced_word("}", raw_escapes=True)
            self.pos += 1
        value = self._lookup(name)
        if value is None and self.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        return replace(pattern, replacement, value or "", replace_all)


def _fail(text: str, error: ValueError) -> DockerfileError:
    shown = text if len(text) <= 200 else text[:200] + "..."
    return DockerfileError(f"failed to process {shown!r}: {error}")


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand ``word`` as one word (ENV values, WORKDIR, COPY paths...)."""
    try:
        return Lexer(word, env, escape).run()[0]
    except ValueError as error:
        raise _fail(word, error) from None


def split_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand ``text`` and split it into words; unquoted expansions split on blanks."""
    try:
        return Lexer(text, env, escape).run()[1]
    except ValueError as error:
        raise _fail(text, error) from None


def expand_heredoc(body: str, env: Mapping[str, str]) -> str:
    """Expand a here-document body: variables and ``\\`` escapes; quotes stay literal."""
    try:
        return Lexer(body, env, "\\", skip_quotes=True).run()[0]
    except ValueError as error:
        raise _fail(body, error) from None
