"""History ``created_by`` strings exactly as docker's builder writes them.

Docker formats several of them with Go's ``fmt``: ``%q`` of a string slice for CMD and
ENTRYPOINT, ``%v`` for SHELL and VOLUME, ``%q`` of the healthcheck struct. These helpers
reproduce that output.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "go_duration",
    "go_list",
    "go_quote",
    "go_quote_list",
    "go_quote_rune",
    "history_entry",
    "nop",
    "nop_string",
    "now_rfc3339",
]

_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def _escape_char(ch: str, quote: str) -> str:
    code = ord(ch)
    if ch == quote or ch == "\\":
        return "\\" + ch
    if code in _ESCAPES:
        return _ESCAPES[code]
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if ch.isprintable() or ch == " ":
        return ch
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``."""
    return '"' + "".join(_escape_char(ch, '"') for ch in text) + '"'


def go_quote_rune(value: int) -> str:
    """Go's ``%q`` of an integer: a single-quoted character literal."""
    if value < 0 or value > 0x10FFFF:
        return "'\\ufffd'"
    return "'" + _escape_char(chr(value), "'") + "'"


def go_quote_list(items: Sequence[str] | None) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(item) for item in items or ()) + "]"


def go_list(items: Sequence[str] | None) -> str:
    """Go's ``%v`` of a ``[]string``: ``[a b]``."""
    return "[" + " ".join(items or ()) + "]"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


def nop(shell: Sequence[str], text: str) -> str:
    """``/bin/sh -c #(nop)  TEXT`` (two spaces: docker joins ``"#(nop) "`` and the text)."""
    return " ".join([*shell, "#(nop) ", text])


def nop_string(shell: Sequence[str], text: str) -> str:
    """``/bin/sh -c #(nop) TEXT``, the one-space form WORKDIR, COPY and ADD use."""
    return " ".join([*shell, "#(nop) " + text])


def epoch_rfc3339(seconds: int) -> str:
    """``SOURCE_DATE_EPOCH`` as an image time: ``2023-11-14T22:13:20Z``."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    stamp = time.time_ns()
    seconds, nanos = divmod(stamp, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def history_entry(
    created_by: str, *, empty_layer: bool, author: str | None, created: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"created": created or now_rfc3339()}
    if author:
        entry["author"] = author
    entry["created_by"] = created_by
    if empty_layer:
        entry["empty_layer"] = True
    return entry
