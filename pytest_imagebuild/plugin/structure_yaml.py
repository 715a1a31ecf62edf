"""Load structure-test YAML keeping line numbers, and check each mapping's keys and types.

PyYAML's safe loader builds plain values; this one builds :class:`Mapping` and
:class:`Sequence` values that remember the line of every key and item, so an unknown key or a
wrong type is reported as ``file:line`` like a compiler error. Every problem is a
:class:`SuiteError` (a UsageError with the location).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_imagebuild.errors import Location, UsageError

__all__ = ["Node", "SuiteError", "YamlList", "YamlMap", "load_yaml"]


class SuiteError(UsageError):
    """A structure-test file is not valid YAML or not a valid schemaVersion 2.0.0 suite."""


class YamlMap(dict[str, Any]):
    """A mapping whose keys remember their lines (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class YamlList(list[Any]):
    """A sequence whose items remember their lines (1-based)."""

    line: int = 0
    item_lines: list[int]


Node = YamlMap | YamlList | str | int | float | bool | None


class _Loader(yaml.SafeLoader):
    """SafeLoader building YamlMap and YamlList; duplicate keys are errors, as in Go's yaml.v3
    strict mode and as a reviewer would expect."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> YamlMap:
    result = YamlMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise yaml.MarkedYAMLError(
                problem=f"key {key!r} is not a string", problem_mark=key_node.start_mark
            )
        if key in result:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> YamlList:
    result = YamlList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path) -> YamlMap:
    """The top-level mapping of ``path``; SuiteError naming the line for bad YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(
            f"cannot read the structure-test file: {error}", location=Location(str(path))
        ) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(part for part in (error.context, error.problem) if part)
        raise SuiteError(f"invalid YAML: {what}", location=Location(str(path), line)) from None
    except yaml.YAMLError as error:
        raise SuiteError(f"invalid YAML: {error}", location=Location(str(path))) from None
    if not isinstance(data, YamlMap):
        raise SuiteError(
            "a structure-test file must be a mapping with schemaVersion: 2.0.0",
            location=Location(str(path), 1),
        )
    return data
