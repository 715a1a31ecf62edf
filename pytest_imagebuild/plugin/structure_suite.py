"""A container-structure-test file (schemaVersion 2.0.0) as checked values: one Case per test.

The keys are CST's (``pkg/types/v2``); ``metadataTest`` also takes ``healthcheck``,
``stopSignal``, ``shell`` and ``onBuild``, which CST lacks. Unknown keys, wrong types and
missing required keys are :class:`SuiteError` with the file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_imagebuild.errors import Location
from pytest_imagebuild.plugin.structure_yaml import SuiteError, YamlList, YamlMap, load_yaml

__all__ = ["KINDS", "Case", "Suite", "load_suite"]

# field -> (type, default); a default of ... means required.
_PAIR = {"key": ("str", ...), "value": ("str", ""), "isRegex": ("bool", False)}
_HEALTH = {
    "test": ("strlist", None),
    "interval": ("str", None),
    "timeout": ("str", None),
    "startPeriod": ("str", None),
    "startInterval": ("str", None),
    "retries": ("int", None),
}
_SCHEMAS: dict[str, dict[str, tuple[str, Any]]] = {
    "fileExistenceTests": {
        "name": ("str", ...),
        "path": ("str", ...),
        "shouldExist": ("bool", True),
        "permissions": ("str", ""),
        "uid": ("int", -1),
        "gid": ("int", -1),
        "isExecutableBy": ("str", ""),
    },
    "fileContentTests": {
        "name": ("str", ...),
        "path": ("str", ...),
        "expectedContents": ("strlist", []),
        "excludedContents": ("strlist", []),
    },
    "commandTests": {
        "name": ("str", ...),
        "command": ("str", ...),
        "args": ("strlist", []),
        "envVars": ("pairs", []),
        "setup": ("commands", []),
        "teardown": ("commands", []),
        "exitCode": ("int", 0),
        "expectedOutput": ("strlist", []),
        "excludedOutput": ("strlist", []),
        "expectedError": ("strlist", []),
        "excludedError": ("strlist", []),
    },
    "metadataTest": {
        "envVars": ("pairs", []),
        "unboundEnvVars": ("pairs", []),
        "labels": ("pairs", []),
        "exposedPorts": ("strlist", []),
        "unexposedPorts": ("strlist", []),
        "volumes": ("strlist", []),
        "unmountedVolumes": ("strlist", []),
        "entrypoint": ("strlist", None),
        "cmd": ("strlist", None),
        "workdir": ("str", ""),
        "user": ("str", ""),
        "healthcheck": ("health", None),
        "stopSignal": ("str", ""),
        "shell": ("strlist", None),
        "onBuild": ("strlist", None),
    },
    "licenseTests": {"debian": ("bool", False), "files": ("strlist", [])},
}
KINDS = tuple(_SCHEMAS)
_RUN_OPTIONS = {
    "user": ("str", ""),
    "envVars": ("strlist", []),
    "privileged": ("bool", False),
    "allocateTty": ("bool", False),
    "capabilities": ("strlist", []),
    "bindMounts": ("strlist", []),
    "envFile": ("str", ""),
}
_TOP = {"schemaVersion", "globalEnvVars", "containerRunOptions", *KINDS}
_EXECUTABLE_BY = ("any", "owner", "group", "other")


@dataclass(frozen=True)
class Case:
    """One test of a suite: its kind, name, line and validated fields (defaults filled)."""

    kind: str
    name: str
    line: int
    fields: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Suite:
    """A loaded file: environment for commands, the user they run as, and the cases."""

    path: Path
    global_env: tuple[tuple[str, str], ...]
    user: str | None
    cases: tuple[Case, ...]


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str, line: int | None) -> SuiteError:
        return SuiteError(message, location=Location(str(self.path), line))

    def value(self, kind: str, value: Any, what: str, line: int) -> Any:
        if kind == "str" and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "strlist" and isinstance(value, YamlList):
            return [self.value("str", item, f"{what} item", ln) for item, ln in _items(value)]
        if kind == "commands" and isinstance(value, YamlList):
            commands = [
                self.value("strlist", item, f"{what} item", ln) for item, ln in _items(value)
            ]
            for command, (_, ln) in zip(commands, _items(value), strict=True):
                if not command:
                    raise self.error(f"{what}: empty command", ln)
            return commands
        if kind == "pairs" and isinstance(value, YamlList):
            return [self.mapping(item, _PAIR, f"{what} item", ln) for item, ln in _items(value)]
        if kind == "health" and isinstance(value, YamlMap):
            return self.mapping(value, _HEALTH, what, line)
        shown = {"strlist": "a list of strings", "commands": "a list of commands (lists)"}
        expected = shown.get(
            kind, "a list of key/value mappings" if kind == "pairs" else f"a {kind}"
        )
        raise self.error(f"{what}: expected {expected}, found {value!r}", line)

    def mapping(
        self, node: Any, schema: dict[str, tuple[str, Any]], what: str, line: int
    ) -> dict[str, Any]:
        if not isinstance(node, YamlMap):
            raise self.error(f"{what}: expected a mapping, found {node!r}", line)
        for key in node:
            if key not in schema:
                known = ", ".join(schema)
                raise self.error(
                    f"{what}: unknown key {key!r} (known: {known})", node.key_lines[key]
                )
        out: dict[str, Any] = {}
        for key, (kind, default) in schema.items():
            if key in node and node[key] is not None:
                out[key] = self.value(kind, node[key], f"{what}.{key}", node.key_lines[key])
            elif default is ...:
                raise self.error(f"{what}: missing required key {key!r}", node.line)
            else:
                out[key] = default
        return out


def _items(items: YamlList) -> list[tuple[Any, int]]:
    lines = getattr(items, "item_lines", None) or [items.line] * len(items)
    return list(zip(items, lines, strict=True))


def _cases(check: _Checker, kind: str, node: Any, line: int) -> list[Case]:
    schema = _SCHEMAS[kind]
    if kind == "metadataTest":
        return [Case(kind, "metadataTest", line, check.mapping(node, schema, kind, line))]
    if not isinstance(node, YamlList):
        raise check.error(f"{kind}: expected a list of tests, found {node!r}", line)
    cases = []
    for index, (item, item_line) in enumerate(_items(node)):
        fields = check.mapping(item, schema, f"{kind}[{index}]", item_line)
        if kind == "fileExistenceTests" and fields["isExecutableBy"] not in ("", *_EXECUTABLE_BY):
            raise check.error(
                f"{kind}[{index}].isExecutableBy: {fields['isExecutableBy']!r} is not one of "
                f"{', '.join(_EXECUTABLE_BY)}",
                item.key_lines["isExecutableBy"],
            )
        name = fields.get("name") or f"{kind}[{index}]"
        cases.append(Case(kind, str(name), item_line, fields))
    return cases


def _run_options(check: _Checker, data: YamlMap) -> tuple[str | None, list[tuple[str, str]]]:
    if "containerRunOptions" not in data or data["containerRunOptions"] is None:
        return None, []
    line = data.key_lines["containerRunOptions"]
    opts = check.mapping(data["containerRunOptions"], _RUN_OPTIONS, "containerRunOptions", line)
    for key in ("privileged", "allocateTty", "capabilities", "bindMounts", "envFile"):
        if opts[key]:
            raise check.error(
                f"containerRunOptions.{key} is not supported: commands run in the sandbox, "
                "not in a container (user and envVars are)",
                data["containerRunOptions"].key_lines.get(key, line),
            )
    env = [(name, os.environ[name]) for name in opts["envVars"] if os.environ.get(name)]
    return opts["user"] or None, env


def load_suite(path: Path) -> Suite:
    """Load and check ``path``; SuiteError (file and line) for anything CST would reject."""
    data = load_yaml(path)
    check = _Checker(path)
    for key in data:
        if key not in _TOP:
            raise check.error(
                f"unknown top-level key {key!r} (known: {', '.join(sorted(_TOP))})",
                data.key_lines[key],
            )
    version = data.get("schemaVersion")
    if str(version) != "2.0.0":
        line = data.key_lines.get("schemaVersion", 1)
        raise check.error(f"schemaVersion must be '2.0.0', found {version!r}", line)
    global_env = [
        (pair["key"], pair["value"])
        for pair in check.value(
            "pairs",
            data.get("globalEnvVars") or YamlList(),
            "globalEnvVars",
            data.key_lines.get("globalEnvVars", 1),
        )
    ]
    user, run_env = _run_options(check, data)
    cases: list[Case] = []
    for kind in KINDS:
        if data.get(kind) is not None:
            cases += _cases(check, kind, data[kind], data.key_lines[kind])
    seen: dict[str, int] = {}
    unique = []
    for case in cases:
        key = f"{case.kind}[{case.name}]"
        seen[key] = seen.get(key, 0) + 1
        name = case.name if seen[key] == 1 else f"{case.name} ({seen[key]})"
        unique.append(Case(case.kind, name, case.line, case.fields))
    return Suite(path, tuple(global_env + run_env), user, tuple(unique))
