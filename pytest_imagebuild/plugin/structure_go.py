"""What container-structure-test borrows from Go: RE2 regexes, ``os.Expand``, ``FileMode``.

Structure-test YAML is written against Go's behaviour, so these three follow it:

* :func:`go_regex` compiles an RE2 pattern with Python's ``re`` after translating where the
  two differ: Go's ``$`` (without the ``m`` flag) matches only at the very end of the text,
  Python's also before a final newline, so it becomes ``\\Z``; Go's ``\\z`` is Python's
  ``\\Z``. What RE2 rejects and Python would accept (lookarounds, backreferences,
  possessive and atomic groups) is refused, as CST would; RE2 features Python lacks
  (``\\p{Greek}`` classes, the ``U`` flag) are refused with a clear message rather than
  guessed at.
* :func:`go_expand` is ``os.Expand``: ``$NAME`` and ``${NAME}`` from a mapping (missing names
  give ""), one-character special names (``$1``, ``$@``), a ``$`` before anything else is kept,
  malformed ``${`` is eaten.
* :func:`go_mode_string` is ``FileMode.String()`` for a file of the image: ``-rw-r--r--``,
  ``drwxr-xr-x``, ``Lrwxrwxrwx``, ``Dcrw-rw-rw-``, ``urwxr-xr-x`` (setuid), ``dtrwxrwxrwx``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pytest_imagebuild.image import File

__all__ = ["GoRegexError", "go_expand", "go_mode_string", "go_regex"]

_REFUSED = (
    (r"(?=", "lookahead"),
    (r"(?!", "negative lookahead"),
    (r"(?<=", "lookbehind"),
    (r"(?<!", "negative lookbehind"),
    (r"(?>", "atomic group"),
)


class GoRegexError(ValueError):
    """A pattern Go's regexp package would not compile (or this translation cannot honour)."""


def _flags_multiline(pattern: str) -> bool:
    match = re.match(r"\(\?([a-zA-Z]+)\)", pattern)
    return bool(match and "m" in match.group(1))


def go_regex(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with Go's meaning (see the module docstring)."""
    for token, what in _REFUSED:
        if token in pattern:
            raise GoRegexError(f"{pattern!r}: Go's RE2 has no {what}")
    multiline = _flags_multiline(pattern)
    if re.match(r"\(\?[a-zA-Z]*U", pattern):
        raise GoRegexError(f"{pattern!r}: the U (ungreedy) flag has no Python equivalent")
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0" and not in_class:
                raise GoRegexError(f"{pattern!r}: Go's RE2 has no backreferences")
            if nxt in "pP":
                raise GoRegexError(f"{pattern!r}: Unicode classes \\{nxt} are not supported here")
            out.append("\\Z" if nxt == "z" and not in_class else pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]" or out[-1] == "["
        elif ch == "[":
            in_class = True
        elif ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        elif ch in "*+?}" and i + 1 < len(pattern) and pattern[i + 1] == "+":
            raise GoRegexError(f"{pattern!r}: Go's RE2 has no possessive quantifiers")
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error as error:
        raise GoRegexError(f"{pattern!r} is not a valid regex: {error}") from None


def _shell_name(text: str) -> tuple[str, int]:
    """Go's getShellName: the name after ``$`` and how many characters it used."""
    special = "*#$@!?-0123456789"
    if text[0] == "{":
        if len(text) > 2 and text[1] in special and text[2] == "}":
            return text[1], 3
        end = text.find("}")
        if end == -1:
            return "", 1  # bad syntax: eat the brace
        if end == 1:
            return "", 2  # "${}"
        return text[1:end], end + 1
    if text[0] in special:
        return text[0], 1
    size = 0
    while size < len(text) and (
        text[size].isascii() and (text[size].isalnum() or text[size] == "_")
    ):
        size += 1
    return text[:size], size


def go_expand(text: str, env: Mapping[str, str]) -> str:
    """``os.Expand(text, lookup in env)``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            name, width = _shell_name(text[i + 1 :])
            if name:
                out.append(env.get(name, ""))
            elif width == 0:
                out.append("$")
            i += 1 + width
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


_TYPE_LETTERS = {"dir": "d", "symlink": "L", "char": "Dc", "block": "D", "fifo": "p", "socket": "S"}


def go_mode_string(file: File) -> str:
    """How Go prints this file's mode (``os.FileMode.String``)."""
    perms = int(file.mode) & 0o7777
    letters = _TYPE_LETTERS.get(file.type, "")
    if letters.startswith("D") and len(letters) == 2:
        letters = "D"  # the c comes after u, g in Go's order
    flags = ("u" if perms & 0o4000 else "") + ("g" if perms & 0o2000 else "")
    flags += "c" if file.type == "char" else ""
    flags += "t" if perms & 0o1000 else ""
    head = (letters + flags) or "-"
    rwx = "".join(ch if perms & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))
    return head + rwx
