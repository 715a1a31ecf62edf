"""Assertion helpers that check everything at once and report every mismatch.

``assert image.file("/x").exists`` cannot say why it failed; ``assert_file(image, "/x",
mode=0o755, user="app")`` raises one AssertionError listing each expected value next to
what the image holds and the layer that wrote the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from types import EllipsisType

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import File, Image
from pytest_imagebuild.plugin.repr import (
    format_file,
    format_layer,
    format_mode,
    missing_path_lines,
    mode_differences,
    shorten,
)

__all__ = ["assert_env", "assert_file", "assert_layers", "assert_no_files"]

FILE_TYPES = frozenset({"file", "dir", "symlink", "char", "block", "fifo", "socket"})
Content = str | bytes | re.Pattern[str] | re.Pattern[bytes]
LayerPattern = str | re.Pattern[str] | EllipsisType


def _fail(title: str, problems: Sequence[str], notes: Sequence[str] = ()) -> AssertionError:
    count = f"{len(problems)} mismatch" + ("es" if len(problems) != 1 else "")
    lines = [f"{title}: {count}", *(f"  {line}" for line in problems), *notes]
    return AssertionError("\n".join(lines))


def _file_notes(file: File) -> list[str]:
    return [format_file(file), f"written by {format_layer(file.layer)}"]


def _check(problems: list[str], name: str, expected: object, actual: object) -> None:
    if expected is not None and expected != actual:
        problems.append(f"{name}: expected {expected!r}, found {actual!r}")


def _contents(file: File, contains: Content | Iterable[Content]) -> list[str]:
    wanted: list[Content] = (
        [contains] if isinstance(contains, str | bytes | re.Pattern) else list(contains)
    )
    if not file.is_file:
        return [f"contains: cannot read the contents of a {file.type}"]
    return [
        f"contains: {item.pattern if isinstance(item, re.Pattern) else item!r} not found"
        for item in wanted
        if not file.contains(item)
    ]


def assert_file(
    image: Image,
    path: str,
    *,
    exists: bool = True,
    type: str | None = None,
    mode: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
    user: str | None = None,
    group: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
    linked_to: str | None = None,
    contains: Content | Iterable[Content] | None = None,
    capabilities: str | None = None,
) -> File:
    """Check a path's attributes; arguments left as None are not checked.

    ``contains`` takes a str, bytes, compiled regex, or a list of them (all must match).
    ``sha256`` may carry the ``sha256:`` prefix. Returns the File when everything matches.
    """
    __tracebackhide__ = True
    if type is not None and type not in FILE_TYPES:
        raise UsageError(f"assert_file: type must be one of {sorted(FILE_TYPES)}, got {type!r}")
    file = image.file(path)
    if not file.exists:
        if not exists:
            return file
        raise _fail(
            file.path,
            ["exists: expected a path, found nothing"],
            missing_path_lines(image, file.path),
        )
    if not exists:
        raise _fail(
            file.path, [f"exists: expected no path, found a {file.type}"], _file_notes(file)
        )
    problems: list[str] = []
    _check(problems, "type", type, file.type)
    if mode is not None and file.mode != mode:
        differences = "; ".join(mode_differences(int(file.mode) & 0o7777, mode & 0o7777))
        problems.append(
            f"mode: expected {format_mode(mode)}, found {format_mode(file.mode)} ({differences})"
        )
    _check(problems, "uid", uid, file.uid)
    _check(problems, "gid", gid, file.gid)
    _check(problems, "user", user, file.user)
    _check(problems, "group", group, file.group)
    _check(problems, "size", size, file.size)
    if sha256 is not None:
        _check(
            problems,
            "sha256",
            sha256.removeprefix("sha256:"),
            (file.sha256 or "").removeprefix("sha256:") or None,
        )
    _check(problems, "linked_to", linked_to, file.linked_to)
    _check(problems, "capabilities", capabilities, file.capabilities)
    if contains is not None:
        problems.extend(_contents(file, contains))
    if problems:
        raise _fail(file.path, problems, _file_notes(file))
    return file


def _env_setter(image: Image, key: str) -> str | None:
    for entry in reversed(image.history):
        text = entry.created_by
        if "ENV" in text and re.search(rf"(^|\s){re.escape(key)}[=\s]", text):
            return shorten(text)
    return None


def assert_env(
    image: Image,
    expected: Mapping[str, str | re.Pattern[str] | None] | None = None,
    /,
    **variables: str | re.Pattern[str] | None,
) -> None:
    """Check environment variables of the image config.

    A str must equal the value, a compiled regex must match it (``re.search``), and None
    means the variable must not be set. Pass a dict for names that are not identifiers.
    """
    __tracebackhide__ = True
    wanted = {**(expected or {}), **variables}
    if not wanted:
        raise UsageError("assert_env: give at least one variable to check")
    env = image.env
    problems = []
    for key, value in wanted.items():
        actual = env.get(key)
        if value is None:
            ok = actual is None
            shown = "not set"
        elif isinstance(value, re.Pattern):
            ok = actual is not None and value.search(actual) is not None
            shown = f"a match for {value.pattern!r}"
        else:
            ok = actual == value
            shown = repr(value)
        if not ok:
            found = "not set" if actual is None else repr(actual)
            problem = f"{key}: expected {shown}, found {found}"
            setter = _env_setter(image, key) if actual is not None else None
            problems.append(problem + (f" (set by: {setter})" if setter else ""))
    if problems:
        raise _fail("env", problems, ["image env:", *(f"  {k}={v}" for k, v in env.items())])


def _matches(pattern: str | re.Pattern[str], text: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(text) is not None
    return pattern in text


def _sequence_matches(patterns: Sequence[LayerPattern], lines: Sequence[str]) -> bool:
    if not patterns:
        return not lines
    head, rest = patterns[0], patterns[1:]
    if head is Ellipsis:
        return any(_sequence_matches(rest, lines[start:]) for start in range(len(lines) + 1))
    return bool(lines) and _matches(head, lines[0]) and _sequence_matches(rest, lines[1:])


def _show(pattern: LayerPattern) -> str:
    if pattern is Ellipsis:
        return "..."
    return f"re {pattern.pattern!r}" if isinstance(pattern, re.Pattern) else repr(pattern)


def assert_layers(
    image: Image,
    count: int | None = None,
    created_by: Sequence[LayerPattern] | None = None,
) -> None:
    """Check the number of layers and what created each one, oldest first.

    ``created_by`` has one entry per layer: a substring or a compiled regex. ``...``
    (Ellipsis) stands for any number of layers, e.g. ``[..., "COPY app", "RUN pip"]``
    checks the last two layers whatever the base image has.
    """
    __tracebackhide__ = True
    layers = image.layers
    lines = [layer.created_by for layer in layers]
    problems: list[str] = []
    _check(problems, "count", count, len(layers))
    if created_by is not None:
        patterns = list(created_by)
        if Ellipsis in patterns:
            if not _sequence_matches(patterns, lines):
                shown = ", ".join(_show(pattern) for pattern in patterns)
                problems.append(f"created_by: layers do not match [{shown}]")
        else:
            if len(patterns) != len(lines):
                problems.append(
                    f"created_by: {len(patterns)} patterns for {len(lines)} layers"
                    " (use ... to skip base layers)"
                )
            for index, (pattern, line) in enumerate(zip(patterns, lines, strict=False)):
                if isinstance(pattern, str | re.Pattern) and not _matches(pattern, line):
                    problems.append(
                        f"layer {index}: expected {_show(pattern)}, found {shorten(line)!r}"
                    )
    if problems:
        raise _fail(
            "layers",
            problems,
            [f"image layers ({len(layers)}):", *(f"  {format_layer(layer)}" for layer in layers)],
        )


def assert_no_files(image: Image, *patterns: str, all_layers: bool = True) -> None:
    """Check that no path matches any glob pattern (``**`` crosses directories).

    With ``all_layers`` (the default) a file deleted by a later layer still counts: its
    bytes ship with the image.
    """
    __tracebackhide__ = True
    if not patterns:
        raise UsageError("assert_no_files: give at least one glob pattern")
    found = {
        path: pattern for pattern in patterns for path in image.glob(pattern, all_layers=all_layers)
    }
    if not found:
        return
    writers: dict[str, list[str]] = {}
    for layer in image.layers:
        for file in image.layer_files(layer.index):
            if file.path in found:
                writers.setdefault(file.path, []).append(format_layer(layer))
    problems = []
    for path, pattern in found.items():
        state = "present" if path in image else "deleted later, still in the layers"
        lines = [f"{path} matches {pattern!r} ({state})"]
        lines.extend(f"    written by {writer}" for writer in writers.get(path, []))
        problems.append("\n  ".join(lines))
    raise _fail("unexpected files", problems)
