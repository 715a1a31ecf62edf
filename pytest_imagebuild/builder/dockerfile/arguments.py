"""Per-instruction argument shapes, as Docker's parser builds them.

Each keyword has its own way of reading the text after the flags: exec (JSON) form
or shell form, key=value pairs, whitespace-separated words, and so on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from pytest_imagebuild.builder.dockerfile.lines import is_space
from pytest_imagebuild.builder.dockerfile.words import WHITESPACE, parse_words, split_command

__all__ = ["Node", "NotStringArrayError", "node_from_line"]


class NotStringArrayError(ValueError):
    """A JSON array whose items are not all strings: an error, not shell form."""


@dataclass
class Node:
    """The parse result of one logical line, before locations are attached."""

    keyword: str
    original: str
    flags: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    json: bool = False
    legacy_form: bool = False
    inner: Node | None = None


Parsed = tuple[tuple[str, ...], bool]


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def parse_json_array(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when ``rest`` is not valid JSON array text."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # nesting too deep for the decoder is not an array
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise NotStringArrayError("dockerfile JSON arrays may only contain strings")
    return tuple(value)


def _maybe_json(rest: str, escape: str) -> Parsed:
    if not rest:
        return (), False
    items = parse_json_array(rest)
    if items is not None:
        return items, True
    return (rest,), False


def _maybe_json_to_list(rest: str, escape: str) -> Parsed:
    items = parse_json_array(rest)
    if items is not None:
        return items, True
    return _whitespace_words(rest, escape)


def _whitespace_words(rest: str, escape: str) -> Parsed:
    if not rest:
        return (), False
    return tuple(WHITESPACE.split(rest)), False


def _string(rest: str, escape: str) -> Parsed:
    return ((rest,) if rest else ()), False


def _name_or_name_value(rest: str, escape: str) -> Parsed:
    return tuple(parse_words(rest, escape)), False


def _health(rest: str, escape: str) -> Parsed:
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    if sep == 0:
        return (), False
    start = sep
    while start < len(rest) and is_space(rest[start]):
        start += 1
    command, is_json = _maybe_json(rest[start:], escape)
    return (rest[:sep], *command), is_json


def _name_values(keyword: str, rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    """ENV/LABEL: returns (key, value, key, value, ...) and whether the old form was used."""
    words = parse_words(rest, escape)
    if not words:
        return (), False
    if "=" not in words[0]:
        parts = WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{keyword} must have two arguments")
        return (parts[0], parts[1]), True
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise ValueError(
                f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
            )
        key, _, value = word.partition("=")
        args += [key, value]
    return tuple(args), False


_SIMPLE: dict[str, Callable[[str, str], Parsed]] = {
    "ADD": _maybe_json_to_list,
    "ARG": _name_or_name_value,
    "CMD": _maybe_json,
    "COPY": _maybe_json_to_list,
    "ENTRYPOINT": _maybe_json,
    "EXPOSE": _whitespace_words,
    "FROM": _whitespace_words,
    "HEALTHCHECK": _health,
    "MAINTAINER": _string,
    "RUN": _maybe_json,
    "SHELL": _maybe_json,
    "STOPSIGNAL": _string,
    "USER": _string,
    "VOLUME": _maybe_json_to_list,
    "WORKDIR": _string,
}

KEYWORDS = frozenset([*_SIMPLE, "ENV", "LABEL", "ONBUILD"])


def node_from_line(line: str, escape: str) -> Node:
    """Parse one logical line. Raises ValueError (message only) on a malformed line.

    Unknown keywords parse with no arguments; the caller reports them.
    """
    word, flags, rest = split_command(line)
    keyword = word.upper()
    node = Node(keyword=keyword, original=line, flags=tuple(flags))
    if keyword in ("ENV", "LABEL"):
        node.args, node.legacy_form = _name_values(keyword, rest, escape)
    elif keyword == "ONBUILD":
        if rest:
            node.inner = node_from_line(rest, escape)
    elif keyword in _SIMPLE:
        node.args, node.json = _SIMPLE[keyword](rest, escape)
    return node
