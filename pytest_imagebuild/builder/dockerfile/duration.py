"""Go-style durations (``1m30s``, ``1.5s``, ``500ms``) as HEALTHCHECK flags take them."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["parse_duration"]

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Nanoseconds in ``text``; raises ValueError when it is not a Go duration."""
    body = text
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"time: invalid duration {text!r}")
    total = Decimal(0)
    pos = 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise ValueError(f"time: invalid duration {text!r}")
        total += Decimal(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * int(total)
