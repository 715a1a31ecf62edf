"""Text for what plain values cannot explain: modes, files, layers, paths in an image.

Used by the ``pytest_assertrepr_compare`` hook and by the ``assert_*`` helpers.
"""

from __future__ import annotations

import difflib
import posixpath
import stat
from collections.abc import Callable

from pytest_imagebuild.diff import ImageDiff
from pytest_imagebuild.diff.render import diff_lines
from pytest_imagebuild.image import File, Image, Layer, Mode

__all__ = [
    "diff_comparison",
    "explain_comparison",
    "format_file",
    "format_layer",
    "format_mode",
    "missing_path_lines",
    "mode_differences",
    "present_path_lines",
    "shorten",
]

_BITS = (
    (0o4000, "setuid"),
    (0o2000, "setgid"),
    (0o1000, "sticky"),
    (0o400, "owner read"),
    (0o200, "owner write"),
    (0o100, "owner execute"),
    (0o040, "group read"),
    (0o020, "group write"),
    (0o010, "group execute"),
    (0o004, "other read"),
    (0o002, "other write"),
    (0o001, "other execute"),
)
_FILE_FIELDS = (
    "exists",
    "type",
    "mode",
    "uid",
    "gid",
    "user",
    "group",
    "size",
    "sha256",
    "linked_to",
    "capabilities",
    "xattrs",
    "mtime",
)
_LISTING_LIMIT = 30
_DIFF_LIMITS = {0: 10, 1: 50}  # items per diff group by verbosity; -vv shows all
_SUGGESTION_LIMIT = 6


def shorten(text: str, width: int = 160) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3] + "..."


def format_mode(value: int) -> str:
    """``0o4755 (rwsr-xr-x)`` for a Mode or a plain int: permission bits in octal and ls-style."""
    bits = int(value) & 0o7777
    return f"{bits:#o} ({stat.filemode(stat.S_IFREG | bits)[1:]})"


def mode_differences(actual: int, expected: int) -> list[str]:
    """Name the permission bits one mode has and the other lacks."""
    extra = [name for bit, name in _BITS if actual & bit and not expected & bit]
    missing = [name for bit, name in _BITS if expected & bit and not actual & bit]
    lines = []
    if extra:
        lines.append("set but not expected: " + ", ".join(extra))
    if missing:
        lines.append("expected but not set: " + ", ".join(missing))
    return lines


def format_layer(layer: Layer | None) -> str:
    """``layer 2 (sha256:0123456789ab): RUN chmod u+s /bin/ping``."""
    if layer is None:
        return "no layer (not in the image)"
    digest = layer.diff_id or layer.digest
    short = digest.split(":", 1)[-1][:12]
    created_by = shorten(layer.created_by) if layer.created_by else "(no history)"
    return f"layer {layer.index} ({short}): {created_by}"


def format_file(file: File) -> str:
    """One line like ``ls -l`` would print: type+mode, owner, size, link target."""
    if not file.exists:
        return f"{file.path}: does not exist"
    owner = f"{file.user or file.uid}:{file.group or file.gid}"
    text = f"{file.path}: {file.type} {format_mode(file.mode)} {owner} {file.size} bytes"
    if file.linked_to is not None:
        text += f" -> {file.linked_to}"
    return text


def _nearest(image: Image, path: str) -> list[str]:
    paths = [file.path for file in image.walk() if not path.startswith(file.path.rstrip("/") + "/")]
    close = difflib.get_close_matches(path, paths, n=_SUGGESTION_LIMIT, cutoff=0.6)
    name = posixpath.basename(path)
    same_name = [candidate for candidate in paths if posixpath.basename(candidate) == name]
    return list(dict.fromkeys(close + same_name))[:_SUGGESTION_LIMIT]


def _existing_parent(image: Image, path: str) -> str:
    parent = posixpath.dirname(path) or "/"
    while parent != "/" and not image.file(parent).is_dir:
        parent = posixpath.dirname(parent)
    return parent


def missing_path_lines(image: Image, path: str) -> list[str]:
    """Explain a path that is not in the image: the nearest existing paths and what the
    nearest existing directory holds."""
    lines = []
    nearest = _nearest(image, path)
    if nearest:
        lines.append("nearest existing paths:")
        lines.extend(f"  {candidate}" for candidate in nearest)
    parent = _existing_parent(image, path)
    names = image.listdir(parent)
    shown = ", ".join(names[:_LISTING_LIMIT]) if names else "(empty)"
    more = f", ... ({len(names) - _LISTING_LIMIT} more)" if len(names) > _LISTING_LIMIT else ""
    lines.append(f"{parent} contains: {shown}{more}")
    return lines


def present_path_lines(image: Image, path: str) -> list[str]:
    """Explain where a path that should not be there came from."""
    file = image.file(path)
    return [format_file(file), f"written by {format_layer(file.layer)}"]


def _normalize(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


def _compare_files(left: File, right: File) -> list[str]:
    lines = [f"{left.path} == {right.path}", "differing attributes:"]
    for name in _FILE_FIELDS:
        one, two = getattr(left, name), getattr(right, name)
        if one != two:
            show = format_mode if name == "mode" else repr
            lines.append(f"  {name}: {show(one)} != {show(two)}")
    if len(lines) == 2:
        lines.append("  none besides the path and the layer")
    lines.append(f"left written by {format_layer(left.layer)}")
    lines.append(f"right written by {format_layer(right.layer)}")
    return lines


def _is_mode_pair(left: int, right: int) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    return isinstance(left, Mode) or isinstance(right, Mode)


def _compare_modes(left: int, right: int) -> list[str]:
    if min(left, right) > 0o7777:
        # Both carry a file type (a value like 0o100755): the whole modes are compared.
        return [
            f"mode {left:#o} ({stat.filemode(left)}) == {right:#o} ({stat.filemode(right)})",
            *mode_differences(left & 0o7777, right & 0o7777),
        ]
    return [
        f"mode {format_mode(left)} == {format_mode(right)}",
        *mode_differences(left & 0o7777, right & 0o7777),
    ]


def _only(one: ImageDiff, other: ImageDiff) -> ImageDiff:
    """The items of ``one`` that ``other`` lacks, per section."""
    fields = ("added", "removed", "changed", "config", "layers", "history", "packages")
    parts = {}
    for name in fields:
        theirs = set(getattr(other, name))
        parts[name] = tuple(item for item in getattr(one, name) if item not in theirs)
    return ImageDiff(**parts)


def diff_comparison(left: ImageDiff, right: ImageDiff, verbosity: int) -> list[str]:
    """An ImageDiff compared with another (usually the empty one): what differs, grouped."""
    limit = _DIFF_LIMITS.get(verbosity)
    if right.is_empty:
        return ["the images differ:", *diff_lines(left, limit)]
    if left.is_empty:
        return ["the images are the same; expected:", *diff_lines(right, limit)]
    lines = ["ImageDiff == ImageDiff"]
    extra, missing = _only(left, right), _only(right, left)
    if not extra.is_empty:
        lines += ["changes not expected:", *("  " + x for x in diff_lines(extra, limit))]
    if not missing.is_empty:
        lines += ["expected changes not found:", *("  " + x for x in diff_lines(missing, limit))]
    return lines


def explain_comparison(
    op: str,
    left: object,
    right: object,
    name_of: Callable[[Image], str],
    verbosity: int = 0,
) -> list[str] | None:
    """Lines for ``pytest_assertrepr_compare``, or None to let pytest explain it."""
    if op == "==" and isinstance(left, ImageDiff) and isinstance(right, ImageDiff):
        return diff_comparison(left, right, verbosity)
    if op == "==" and isinstance(left, int) and isinstance(right, int):
        if _is_mode_pair(left, right):
            return _compare_modes(int(left), int(right))
        return None
    if op == "==" and isinstance(left, File) and isinstance(right, File):
        return _compare_files(left, right)
    if op in ("in", "not in") and isinstance(left, str) and isinstance(right, Image):
        path = _normalize(left)
        if op == "in":
            return [f"{path} in {name_of(right)}", *missing_path_lines(right, path)]
        return [f"{path} not in {name_of(right)}", *present_path_lines(right, path)]
    return None
