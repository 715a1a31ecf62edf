"""apk's version ordering, for Alpine's ``number{.number}{letter}{_suffix{number}}{-r#}``.

A version is read as a chain of tokens, each of a kind: digits, digits after a dot,
a letter, a suffix name, the suffix's number, the revision number. While both chains
have a token of the same kind next, values decide (numbers as numbers; after a dot a run
of leading zeros counts as minus its length, so 1.01 sorts before 1.1; suffixes in the
order alpha, beta, pre, rc, then none, then cvs, svn, git, hg, p). When the next kinds
differ, a pre-release suffix makes its version older; otherwise the version that goes on
with the earlier kind in that list is the newer one (1.0.1 is newer than 1.0a, 1.0a newer
than 1.0, 1.0_p1 newer than 1.0-r1, 1.0-r1 newer than 1.0).
"""

from __future__ import annotations

__all__ = ["apk_key_tokens", "compare_apk"]

DOT_DIGITS, DIGITS, LETTER, SUFFIX, SUFFIX_NUMBER, REVISION, END = range(7)
PRE = ("alpha", "beta", "pre", "rc")
POST = ("cvs", "svn", "git", "hg", "p")
ALLOWED_BACK = {(DIGITS, DOT_DIGITS), (SUFFIX_NUMBER, SUFFIX), (LETTER, DIGITS)}


def _bad(text: str) -> ValueError:
    return ValueError(f"not an apk version: {text!r}")


def _next_kind(kind: int, text: str, pos: int) -> tuple[int, int]:
    """The kind of the token at ``pos`` and where it starts (after its separator)."""
    char = text[pos]
    if kind in (DIGITS, DOT_DIGITS) and "a" <= char <= "z":
        new = LETTER
    elif kind == LETTER and char.isascii() and char.isdigit():
        new = DIGITS
    elif kind == SUFFIX and char.isascii() and char.isdigit():
        new = SUFFIX_NUMBER
    elif char == ".":
        new, pos = DOT_DIGITS, pos + 1
    elif char == "_":
        new, pos = SUFFIX, pos + 1
    elif char == "-" and text[pos + 1 : pos + 2] == "r":
        new, pos = REVISION, pos + 2
    else:
        raise _bad(text)
    if new < kind and (kind, new) not in ALLOWED_BACK:
        raise _bad(text)
    return new, pos


def _digits(text: str, pos: int) -> tuple[int, int]:
    end = pos
    while end < len(text) and text[end].isascii() and text[end].isdigit():
        end += 1
    return (int(text[pos:end]) if end > pos else 0), end


def apk_key_tokens(text: str) -> list[tuple[int, int]]:
    """The (kind, value) tokens of a version, ending with (END, 0); ValueError if it is
    not an apk version."""
    if not text or not text[0].isdigit():
        raise _bad(text)
    tokens: list[tuple[int, int]] = []
    kind, pos = DIGITS, 0
    while pos < len(text):
        after: int | None = None
        if kind == DOT_DIGITS and text[pos] == "0":
            end = pos
            while end < len(text) and text[end] == "0":
                end += 1
            value = pos - end
            if end < len(text) and text[end].isdigit():
                after = DIGITS  # the digits after the zeros are a token of their own
        elif kind in (DOT_DIGITS, DIGITS, SUFFIX_NUMBER, REVISION):
            value, end = _digits(text, pos)
            if end == pos and kind != SUFFIX_NUMBER:
                raise _bad(text)
        elif kind == LETTER:
            value, end = ord(text[pos]), pos + 1
        else:  # SUFFIX
            name = next((s for s in PRE if text.startswith(s, pos)), None)
            if name is not None:
                value = PRE.index(name) - len(PRE)
            else:
                name = next((s for s in POST if text.startswith(s, pos)), None)
                if name is None:
                    raise _bad(text)
                value = POST.index(name) + 1
            end, after = pos + len(name), SUFFIX_NUMBER
        tokens.append((kind, value))
        pos = end
        if pos >= len(text):
            break
        if after is not None:
            kind = after
        else:
            kind, pos = _next_kind(kind, text, pos)
            if pos >= len(text):
                raise _bad(text)  # a separator with nothing after it
    tokens.append((END, 0))
    return tokens


def compare_apk(a: str, b: str) -> int:
    """-1, 0 or 1 as apk version ``a`` is older than, equal to or newer than ``b``."""
    left, right = apk_key_tokens(a), apk_key_tokens(b)
    i = 0
    while left[i][0] == right[i][0] and left[i][0] != END:
        if left[i][1] != right[i][1]:
            return 1 if left[i][1] > right[i][1] else -1
        i += 1
    (kind_a, value_a), (kind_b, value_b) = left[i], right[i]
    if kind_a == kind_b:
        return 0
    if kind_a == SUFFIX and value_a < 0:
        return -1
    if kind_b == SUFFIX and value_b < 0:
        return 1
    return -1 if kind_a > kind_b else 1
