"""Efficiency thresholds, also in dive's CI spelling (a ``.dive-ci`` file's ``rules:``).

dive reads ``lowestEfficiency`` (a ratio 0-1 the score must reach), ``highestWastedBytes``
(a size such as ``20MB``: SI units, ``MiB`` for powers of two) and
``highestUserWastedPercent`` (a ratio 0-1 of the layers above the first); each may be
``disabled`` (also ``off``, ``false`` or empty). Newer dive versions spell the keys
``lowest-efficiency``, ``highest-wasted-bytes`` and ``highest-user-wasted-percent``; both
spellings are read. A rule a file leaves out takes dive's default (0.9, disabled, 0.1).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from pytest_imagebuild.errors import Location, UsageError

__all__ = ["DIVE_DEFAULTS", "Rules", "parse_bytes", "parse_rules", "read_dive_ci"]

KEYS = {
    "lowestEfficiency": "lowest_efficiency",
    "lowest-efficiency": "lowest_efficiency",
    "highestWastedBytes": "highest_wasted_bytes",
    "highest-wasted-bytes": "highest_wasted_bytes",
    "highestUserWastedPercent": "highest_user_wasted_percent",
    "highest-user-wasted-percent": "highest_user_wasted_percent",
}
DIVE_DEFAULTS = {
    "lowest_efficiency": "0.9",
    "highest_wasted_bytes": "disabled",
    "highest_user_wasted_percent": "0.1",
}
DISABLED = frozenset({"", "disabled", "off", "false"})
# Unit names as dive's size parser (go-humanize) takes them, lower case: SI and IEC.
UNITS = {"": 1, "b": 1}
for _power, _letter in enumerate("kmgtpe", start=1):
    UNITS[_letter] = UNITS[_letter + "b"] = 1000**_power
    UNITS[_letter + "i"] = UNITS[_letter + "ib"] = 1024**_power
SIZE = re.compile(r"([0-9.,]*)(.*)", re.DOTALL)


@dataclass(frozen=True)
class Rules:
    """Thresholds; None means the rule is disabled."""

    lowest_efficiency: float | None = None
    highest_wasted_bytes: int | None = None
    highest_user_wasted_percent: float | None = None


def parse_bytes(text: str) -> int:
    """A size as dive reads ``highestWastedBytes``: "20MB" is 20,000,000, "20MiB"
    20,971,520, "1,000" 1000 bytes; case and a space before the unit do not matter."""
    match = SIZE.fullmatch(text)
    number, unit = (match.group(1), match.group(2)) if match else ("", text)
    factor = UNITS.get(unit.strip().lower())
    try:
        value = float(number.replace(",", ""))
    except ValueError:
        value = -1.0
    if factor is None or value < 0:
        raise ValueError(f"not a size: {text!r} (use a number with B, kB, MB, GB, KiB, MiB...)")
    return int(value * factor)


def _ratio(text: str, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} must be a ratio from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{key} must be a ratio from 0 to 1, got {text!r}")
    return value


def _text(value: object) -> str:
    if value is None or value is False:
        return "disabled"
    return str(value).strip()


def _value(name: str, raw: object) -> float | int | None:
    text = _text(raw)
    if text.lower() in DISABLED:
        return None
    if name == "highest_wasted_bytes":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        return parse_bytes(text)
    return _ratio(text, name)


def parse_rules(
    values: Mapping[str, object], *, where: str = "rules", lines: Mapping[str, int] | None = None
) -> Rules:
    """Rules from a mapping in dive's spelling (or the Python names); keys left out take
    dive's defaults. Unknown keys and bad values raise UsageError naming ``where``."""
    chosen: dict[str, object] = dict(DIVE_DEFAULTS)
    for key, raw in values.items():
        name = KEYS.get(key, key if key in DIVE_DEFAULTS else "")
        line = (lines or {}).get(key)
        if not name:
            raise UsageError(
                f"unknown efficiency rule {key!r}",
                location=Location(where, line),
                hint=f"dive's rules are {', '.join(sorted(k for k in KEYS if '-' not in k))}",
            )
        chosen[name] = raw
    parsed: dict[str, float | int | None] = {}
    for name, raw in chosen.items():
        try:
            parsed[name] = _value(name, raw)
        except ValueError as exc:
            spelled = [k for k in values if KEYS.get(k, k) == name]
            line = (lines or {}).get(spelled[0]) if spelled else None
            raise UsageError(str(exc), location=Location(where, line)) from None
    efficiency, wasted, percent = (parsed[name] for name in DIVE_DEFAULTS)
    return Rules(
        None if efficiency is None else float(efficiency),
        None if wasted is None else int(wasted),
        None if percent is None else float(percent),
    )


def read_dive_ci(path: str | os.PathLike[str]) -> Rules:
    """The rules of a ``.dive-ci`` file (YAML with a ``rules:`` mapping)."""
    where = os.fspath(path)
    try:
        text = Path(where).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read dive CI file: {exc.strerror}", location=Location(where)
        ) from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"bad YAML: {problem}", location=Location(where, line)) from None
    rules = _mapping(root, "rules", where) if root is not None else None
    if rules is None:
        raise UsageError(
            "no 'rules:' mapping",
            location=Location(where, 1),
            hint="a .dive-ci file reads: rules: {lowestEfficiency: 0.95, ...}",
        )
    values: dict[str, object] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in rules.value:
        if not isinstance(value_node, yaml.ScalarNode):
            raise UsageError(
                f"rule {key_node.value!r} must be a single value",
                location=Location(where, value_node.start_mark.line + 1),
            )
        values[str(key_node.value)] = value_node.value
        lines[str(key_node.value)] = key_node.start_mark.line + 1
    return parse_rules(values, where=where, lines=lines)


def _mapping(root: yaml.Node, key: str, where: str) -> yaml.MappingNode | None:
    if not isinstance(root, yaml.MappingNode):
        raise UsageError("a dive CI file is a YAML mapping", location=Location(where, 1))
    for key_node, value_node in root.value:
        if key_node.value == key:
            if not isinstance(value_node, yaml.MappingNode):
                raise UsageError(
                    f"{key!r} must be a mapping",
                    location=Location(where, value_node.start_mark.line + 1),
                )
            return value_node
    return None
