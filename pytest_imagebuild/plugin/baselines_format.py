"""The baseline text format: an image's config, packages and files, one line per item.

::

    # pytest-imagebuild baseline 1
    [config]
    config.env.PATH "/usr/local/bin:/usr/bin"
    config.user "app"
    [packages]
    dpkg libc6 2.36-9+deb12u7 arch=amd64
    python six 1.16.0 in=/usr/lib/python3/dist-packages
    [files]
    /bin dir 0755 0:0
    /bin/sh symlink 0777 0:0 -> busybox
    /etc/passwd file 0644 0:0 size=123 sha256=0a1b...
    /usr/bin/ping file 0755 0:0 size=9 sha256=... xattr.security.capability=0x0100...

Sections come in a fixed order and lines sort by path or field name, so a VCS diff of
two baselines reads as the image diff does. Config values are JSON. A package line is
ecosystem, name and version, then ``arch=`` when known and ``in=`` the folder for Python
and npm packages (see ``diff.packages.place``). A baseline written before packages were
recorded has no ``[packages]`` section: ``Baseline.packages`` is None for it. Paths and link
targets escape backslash, space, "=", control characters and bytes that are not UTF-8
(``\\x20``, ``\\x0a``, ``\\xff``), so every path is one token and a baseline written on
one machine reads the same on another. Times appear only when asked (``mtime=``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from pytest_imagebuild.diff.inventory import Entry, Inventory
from pytest_imagebuild.diff.model import Value
from pytest_imagebuild.diff.packages import PackageKey, key_order
from pytest_imagebuild.errors import ImageFormatError, Location
from pytest_imagebuild.packages import Package
from pytest_imagebuild.packages.model import canonical_name

__all__ = ["HEADER", "Baseline", "escape", "parse_baseline", "render_baseline", "unescape"]

HEADER = "# pytest-imagebuild baseline 1"
SECTIONS = ("config", "packages", "files")
_ESCAPE = re.compile(r"[\\\s=\x00-\x1f\x7f\udc80-\udcff]")
_UNESCAPE = re.compile(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})|\\\\")


def escape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = match.group(0)
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            return f"\\x{code - 0xDC00:02x}"
        if char == "\\":
            return "\\\\"
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _ESCAPE.sub(one, text)


def unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            if code >= 0x80 and code not in (0x85, 0xA0):
                return chr(0xDC00 + code)  # back to the surrogateescape form
            return chr(code)
        if match.group(2):
            return chr(int(match.group(2), 16))
        return "\\"

    return _UNESCAPE.sub(one, text)


class Baseline:
    """A parsed baseline: config fields, packages (None when the baseline has no packages
    section) and an inventory with known digests."""

    def __init__(
        self,
        config: dict[str, Value],
        files: Inventory,
        packages: dict[PackageKey, Package] | None,
    ) -> None:
        self.config = config
        self.files = files
        self.packages = packages


def _value(value: Value) -> str:
    if isinstance(value, bytes):
        return json.dumps({"hex": value.hex()})
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=True)


def _file_line(path: str, e: Entry, sha256: str | None, mtimes: bool) -> str:
    parts = [escape(path), e.type, f"{e.mode:04o}", f"{e.uid}:{e.gid}"]
    if e.type == "file":
        parts += [f"size={e.size}", f"sha256={sha256}"]
    if e.linked_to is not None:
        parts += ["->", escape(e.linked_to)]
    parts += [f"xattr.{escape(name)}=0x{value.hex()}" for name, value in e.xattrs]
    if mtimes:
        parts.append(f"mtime={e.mtime}")
    return " ".join(parts)


def _package_line(key: PackageKey, p: Package) -> str:
    parts = [escape(p.ecosystem), escape(p.name), escape(p.version)]
    if p.arch:
        parts.append(f"arch={escape(p.arch)}")
    if key[2]:
        parts.append(f"in={escape(key[2])}")
    return " ".join(parts)


def render_baseline(
    config: dict[str, Value],
    files: Inventory,
    mtimes: bool = False,
    *,
    packages: Mapping[PackageKey, Package],
) -> str:
    lines = [HEADER, "[config]"]
    for name in sorted(config):
        if config[name] is not None and (mtimes or name != "config.created"):
            lines.append(f"{escape(name)} {_value(config[name])}")
    lines.append("[packages]")
    lines += [_package_line(key, packages[key]) for key in sorted(packages, key=key_order)]
    lines.append("[files]")
    for path in sorted(files.entries):
        lines.append(_file_line(path, files.entries[path], files.sha256(path), mtimes))
    return "\n".join(lines) + "\n"


def _parse_value(text: str) -> Value:
    value = json.loads(text)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, dict) and "hex" in value:
        return bytes.fromhex(value["hex"])
    if value is None or isinstance(value, str | int):
        return value
    raise ValueError(f"unexpected value {text}")


def _parse_file(line: str) -> tuple[str, Entry]:
    tokens = line.split(" ")
    path, kind, mode, owner = tokens[:4]
    uid, _, gid = owner.partition(":")
    size, mtime, sha256, link = 0, 0, None, None
    xattrs = []
    rest = iter(tokens[4:])
    for word in rest:
        if word == "->":
            link = unescape(next(rest))
            continue
        key, sep, value = word.partition("=")
        if not sep:
            raise ValueError(f"unexpected word {word!r}")
        if key == "size":
            size = int(value)
        elif key == "sha256":
            sha256 = None if value == "None" else value
        elif key == "mtime":
            mtime = int(value)
        elif key.startswith("xattr."):
            xattrs.append((unescape(key[6:]), bytes.fromhex(value.removeprefix("0x"))))
        else:
            raise ValueError(f"unknown field {key!r}")
    entry = Entry(
        kind, int(mode, 8), int(uid), int(gid), size, mtime, link, tuple(xattrs), None, sha256
    )
    return unescape(path), entry


def _parse_package(line: str) -> tuple[PackageKey, Package]:
    ecosystem, name, version, *rest = (unescape(word) for word in line.split(" "))
    found = {"arch": "", "in": ""}
    for word in rest:
        key, sep, value = word.partition("=")
        if not sep or key not in found:
            raise ValueError(f"unexpected word {word!r}")
        found[key] = value
    package = Package(name, version, ecosystem, found["in"], arch=found["arch"] or None)
    return (ecosystem, canonical_name(ecosystem, name), found["in"]), package


def parse_baseline(text: str, where: str) -> Baseline:
    """Read a baseline; a malformed line is an ImageFormatError naming the file and line."""
    lines = text.splitlines()
    if not lines or lines[0] != HEADER:
        raise ImageFormatError(
            f"not a baseline (the first line is not {HEADER!r})",
            location=Location(where, 1),
            hint="remove the file and run pytest --imagebuild-update-baselines",
        )
    config: dict[str, Value] = {}
    entries: dict[str, Entry] = {}
    packages: dict[PackageKey, Package] | None = None
    section = ""
    for number, line in enumerate(lines[1:], 2):
        try:
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]") and line[1:-1] in SECTIONS:
                section = line[1:-1]
                if section == "packages":
                    packages = {} if packages is None else packages
            elif section == "config":
                name, _, value = line.partition(" ")
                config[unescape(name)] = _parse_value(value)
            elif section == "packages" and packages is not None:
                key, package = _parse_package(line)
                packages[key] = package
            elif section == "files":
                path, entry = _parse_file(line)
                entries[path] = entry
            else:
                raise ValueError("a line outside any section")
        except (ValueError, IndexError, StopIteration, json.JSONDecodeError) as exc:
            raise ImageFormatError(
                f"malformed baseline line: {exc or line!s}",
                location=Location(where, number),
                hint="fix the line, or run pytest --imagebuild-update-baselines to rewrite it",
            ) from None
    return Baseline(config, Inventory(entries), packages)
