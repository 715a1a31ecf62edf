"""Docker's parse-tree text: ``(copy ["--from=x"] "a" "b")``, one instruction a line.

Strings are quoted the way Go's ``strconv.Quote`` does, so the output compares
byte for byte with the parse trees BuildKit's own tests expect.
"""

from __future__ import annotations

from pytest_imagebuild.builder.dockerfile.model import Dockerfile, Instruction

__all__ = ["dump", "dump_instruction", "go_quote"]

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _values(instruction: Instruction) -> list[str]:
    if instruction.keyword in ("ENV", "LABEL"):
        marker = "" if instruction.legacy_form else "="
        values: list[str] = []
        for key, value in instruction.pairs:
            values += [key, value, marker]
        return values
    return list(instruction.args)


def dump_instruction(instruction: Instruction) -> str:
    text = instruction.keyword.lower()
    if instruction.flags:
        text += " [" + " ".join(go_quote(flag) for flag in instruction.flags) + "]"
    if instruction.inner is not None:
        text += " (" + dump_instruction(instruction.inner) + ")"
    for value in _values(instruction):
        text += " " + go_quote(value)
    return text


def dump(dockerfile: Dockerfile) -> str:
    """One ``(keyword ...)`` line per instruction, each ending with a newline."""
    return "".join(f"({dump_instruction(item)})\n" for item in dockerfile.instructions)
