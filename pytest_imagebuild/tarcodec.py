"""The one tar header codec shared by the read side (image/) and the builder.

Numbers (octal or GNU base-256), the header checksum, PAX records (``x``, Solaris ``X``
and global ``g`` headers) and the xattr spellings (``SCHILY.xattr.*`` and bsdtar's
base64 ``LIBARCHIVE.xattr.*``) are decoded here and nowhere else. Malformed input raises
``TarFormatError``; each side turns it into its own error (``ImageFormatError`` on the
read side, the builder's error when unpacking) with the archive's name.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from urllib.parse import unquote_to_bytes

__all__ = [
    "BLOCK",
    "META_TYPES",
    "TarFormatError",
    "parse_number",
    "parse_pax",
    "verify_checksum",
    "xattrs_from_pax",
]

BLOCK = 512
META_TYPES = frozenset(b"xXgLK")  # PAX, Solaris PAX, global PAX, GNU long name / link
_HALF = bytes(b >> 1 for b in range(256))
_LOW_BIT = bytes(b & 1 for b in range(256))


class TarFormatError(ValueError):
    """A malformed tar archive; ``offset`` is the stream offset of the bad header."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def describe(self, where: str) -> str:
        """The message prefixed with the archive name and, when known, the offset."""
        at = f" at offset {self.offset}" if self.offset is not None else ""
        return f"{where}{at}: {self.message}"


def parse_number(field: bytes) -> int:
    """A numeric header field: NUL/space-terminated octal, or GNU base-256 (signed)."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field, "big") & ~(0x80 << (8 * (len(field) - 1)))
        if field[0] & 0x40:
            value -= 1 << (8 * len(field) - 1)
        return value
    text = field.split(b"\x00", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarFormatError(f"bad number {text!r} in tar header") from None


def _signed_sum(block: bytes) -> int:
    """The checksum as some old tar writers computed it, with signed bytes."""
    return sum(b - 256 if b > 127 else b for b in block[:148] + b" " * 8 + block[156:])


def verify_checksum(block: bytes, stored: int | None = None) -> None:
    """Check a 512-byte header's checksum (the unsigned sum, or the signed one)."""
    if stored is None:
        try:
            stored = parse_number(block[148:156])
        except TarFormatError:
            stored = -1  # unreadable: reported below as a checksum mismatch
    # The exact sum of all bytes: the halved bytes summed by adler32 (at most
    # 512 * 127 < 65521, so no modulo), plus the low bits; the checksum field
    # itself counts as eight spaces.
    total = 2 * ((zlib.adler32(block.translate(_HALF)) & 0xFFFF) - 1)
    total += block.translate(_LOW_BIT).count(1) - sum(block[148:156]) + 256
    if stored != total and stored != _signed_sum(block):
        name = block[:100].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
        raise TarFormatError(f"corrupt tar header (checksum) at member {name!r}")


def parse_pax(data: bytes) -> dict[str, bytes]:
    """PAX records ``"%d %s=%s\\n"``; values stay bytes (xattr values are binary)."""
    out: dict[str, bytes] = {}
    pos = 0
    end = len(data)
    while pos < end:
        space = data.find(b" ", pos, pos + 21)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            if not data[pos:].strip(b"\x00"):
                break  # NUL padding after the last record
            raise TarFormatError(f"malformed PAX header: bad record length at byte {pos}")
        length = int(digits)
        if length <= space - pos or pos + length > end:
            raise TarFormatError(f"malformed PAX header: record length {length} at byte {pos}")
        record = data[space + 1 : pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise TarFormatError(f"malformed PAX header: bad record at byte {pos}")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


def xattrs_from_pax(pax: dict[str, bytes]) -> dict[str, bytes]:
    """The extended attributes named by PAX records (GNU/star and bsdtar spellings)."""
    found: dict[str, bytes] = {}
    for key, value in pax.items():
        if key.startswith("SCHILY.xattr."):
            found[key[13:]] = value
        elif key.startswith("LIBARCHIVE.xattr."):
            name = unquote_to_bytes(key[17:]).decode("utf-8", "surrogateescape")
            try:
                found[name] = base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
            except (binascii.Error, ValueError):
                raise TarFormatError(f"malformed LIBARCHIVE.xattr record for {name!r}") from None
    return found
