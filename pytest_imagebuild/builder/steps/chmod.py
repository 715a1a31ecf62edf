"""``--chmod`` values: octal (``0755``) or symbolic (``u+x``, ``a+rX,go-w``) as chmod(1) reads."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["parse_chmod"]

_CLAUSE = re.compile(r"^([ugoa]*)((?:[-+=][rwxXst]*)+)$")
_OPS = re.compile(r"([-+=])([rwxXst]*)")
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}


def parse_chmod(text: str) -> Callable[[int, bool], int]:
    """A function (old mode, is_dir) -> new permission bits; ValueError when invalid."""
    if re.fullmatch(r"[0-7]{1,4}", text):
        value = int(text, 8)
        return lambda _mode, _is_dir: value
    clauses = []
    for clause in text.split(","):
        match = _CLAUSE.match(clause)
        if not match:
            raise ValueError(f"invalid chmod value {text!r}")
        clauses.append((match.group(1) or "a", _OPS.findall(match.group(2))))

    def apply(mode: int, is_dir: bool) -> int:
        mode &= 0o7777
        for who, ops in clauses:
            mask = 0
            for w in "ugo" if "a" in who else who:
                mask |= _WHO[w]
            for op, perms in ops:
                bits = 0
                for p in perms:
                    if p == "r":
                        bits |= 0o444
                    elif p == "w":
                        bits |= 0o222
                    elif p == "x" or (p == "X" and (is_dir or mode & 0o111)):
                        bits |= 0o111
                    elif p == "s":
                        bits |= 0o6000
                    elif p == "t":
                        bits |= 0o1000
                bits &= mask
                if op == "+":
                    mode |= bits
                elif op == "-":
                    mode &= ~bits
                else:
                    mode = (mode & ~(mask & 0o7777)) | bits
        return mode

    return apply
