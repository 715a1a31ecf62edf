"""Splitting an instruction line into keyword, flags and argument text, and the
quote-aware word splitter used for ENV, LABEL and ARG (no expansion happens here)."""

from __future__ import annotations

import re

from pytest_imagebuild.builder.dockerfile.lines import is_space, trim_space

__all__ = ["WHITESPACE", "extract_flags", "parse_words", "split_command"]

WHITESPACE = re.compile(r"[\t\v\f\r ]+")


def split_command(line: str) -> tuple[str, list[str], str]:
    """``"COPY --from=a x y"`` -> ``("COPY", ["--from=a"], "x y")``."""
    parts = WHITESPACE.split(trim_space(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = extract_flags(parts[1])
    return parts[0], flags, trim_space(rest)


def extract_flags(line: str) -> tuple[str, list[str]]:
    """Take the leading ``--flag[=value]`` words; quotes and ``\\`` are resolved in them.

    A lone ``--`` ends the flags. Returns the remaining text and the flags.
    """
    words: list[str] = []
    pos, end = 0, len(line)
    while True:
        while pos < end and is_space(line[pos]):
            pos += 1
        if pos == end:
            return "", words
        if not line.startswith("--", pos):
            return line[pos:], words
        word: list[str] = []
        blank_ok = False
        quote = ""
        while pos < end:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\":
                    if pos + 1 == end:
                        quote = ""
                    else:
                        pos += 1
                        word.append(line[pos])
                else:
                    word.append(ch)
                pos += 1
                continue
            if is_space(ch):
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
            elif ch == "\\":
                if pos + 1 < end:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if pos == end:
            if text != "--" and (blank_ok or text):
                words.append(text)
            return "", words
        if text == "--":
            return line[pos:], words
        if blank_ok or text:
            words.append(text)


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on blanks outside quotes, keeping quotes and escapes in the words."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    blank_ok = False
    quote = ""
    pos, end = 0, len(rest)
    while pos < end:
        ch = rest[pos]
        if not in_word and not quote:
            if is_space(ch):
                pos += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            if ch == escape and quote != "'":
                if pos + 1 == end:
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        if is_space(ch):
            in_word = False
            if blank_ok or word:
                words.append("".join(word))
            word = []
            blank_ok = False
            pos += 1
            continue
        if ch in "'\"":
            quote = ch
            blank_ok = True
        if ch == escape:
            if pos + 1 == end:
                pos += 1
                continue
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    if (in_word or quote) and (blank_ok or word):
        words.append("".join(word))
    return words
