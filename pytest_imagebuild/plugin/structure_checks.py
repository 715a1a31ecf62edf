"""Run one structure-test case against an image: CST's semantics, the helpers' messages.

Each check returns ``(problems, notes)``: one line per mismatch, and context lines (the file
as the image holds it, the command's output) shown after them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pytest_imagebuild.image import Image
from pytest_imagebuild.image.invocation import Invocation, resolve
from pytest_imagebuild.plugin.commands import output_notes
from pytest_imagebuild.plugin.repr import format_file
from pytest_imagebuild.plugin.structure_go import GoRegexError, go_expand, go_mode_string, go_regex
from pytest_imagebuild.plugin.structure_suite import Case, Suite

__all__ = ["CHECKS", "Outcome"]

Outcome = tuple[list[str], list[str]]
_LICENSE_BANNED = ("AGPL", "WTFPL")
_LICENSE_ALLOWED = ("libgnutls30",)
_EXEC_BITS = {"any": 0o111, "owner": 0o100, "group": 0o010, "other": 0o001}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def _match(pattern: str, text: str, what: str, problems: list[str]) -> bool | None:
    try:
        return go_regex(pattern).search(text) is not None
    except GoRegexError as error:
        problems.append(f"{what}: {error}")
        return None


def _patterns(fields: Mapping[str, Any], key: str, text: str, want: bool) -> list[str]:
    problems: list[str] = []
    for pattern in fields[key]:
        found = _match(pattern, text, key, problems)
        if found is not None and found != want:
            problems.append(f"{key}: {pattern!r} {'not found' if want else 'found'}")
    return problems


def file_existence(image: Image, suite: Suite, case: Case) -> Outcome:
    f = case.fields
    path = go_expand(f["path"], image.env)
    file = image.file(path)
    if not f["shouldExist"]:
        return ([f"{path} should not exist, but is a {file.type}"] if file.exists else []), []
    if not file.exists:
        return [f"{path} should exist, but does not"], []
    problems = []
    shown = go_mode_string(file)
    if f["permissions"] and shown != f["permissions"]:
        problems.append(f"permissions: expected {f['permissions']!r}, found {shown!r}")
    who = f["isExecutableBy"]
    if who and not int(file.mode) & _EXEC_BITS[who]:
        problems.append(f"isExecutableBy: not executable by {who} ({shown})")
    for key, actual in (("uid", file.uid), ("gid", file.gid)):
        if f[key] != -1 and f[key] != actual:
            problems.append(f"{key}: expected {f[key]}, found {actual}")
    return problems, [format_file(file)]


def file_content(image: Image, suite: Suite, case: Case) -> Outcome:
    path = case.fields["path"]
    file = image.file(path, follow_symlinks=True)
    if not file.is_file:
        state = "does not exist" if not file.exists else f"is a {file.type}"
        return [f"cannot read {path}: it {state}"], []
    text = file.read_bytes().decode("utf-8", "replace")
    problems = _patterns(case.fields, "expectedContents", text, True)
    problems += _patterns(case.fields, "excludedContents", text, False)
    return problems, [format_file(file)] if problems else []


def _duration(text: str) -> int | None:
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace("+", ""):
        return None
    return round(sum(float(n) * _UNITS[u] for n, u in parts))


def _pairs(found: Mapping[str, str], pairs: list[dict[str, Any]], what: str) -> list[str]:
    problems: list[str] = []
    for pair in pairs:
        key, value = pair["key"], pair["value"]
        if key not in found:
            problems.append(f"{what} {key}: missing")
            continue
        ok = (
            _match(value, found[key], f"{what} {key}", problems)
            if pair["isRegex"]
            else value == found[key]
        )
        if ok is False:
            kind = "re " if pair["isRegex"] else ""
            problems.append(f"{what} {key}: expected {kind}{value!r}, found {found[key]!r}")
    return problems


def _health(image: Image, want: dict[str, Any]) -> list[str]:
    have = image.healthcheck
    if have is None:
        return ["healthcheck: the image has none"]
    problems = []
    if want["test"] is not None and tuple(want["test"]) != have.test:
        problems.append(f"healthcheck test: expected {want['test']!r}, found {list(have.test)!r}")
    for key, attr in (
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("startPeriod", "start_period"),
        ("startInterval", "start_interval"),
    ):
        if want[key] is None:
            continue
        wanted = _duration(want[key])
        if wanted is None:
            problems.append(
                f"healthcheck {key}: {want[key]!r} is not a Go duration (e.g. 30s, 1m30s)"
            )
        elif wanted != getattr(have, attr):
            problems.append(
                f"healthcheck {key}: expected {want[key]}, found {getattr(have, attr) / 1e9:g}s"
            )
    if want["retries"] is not None and want["retries"] != have.retries:
        problems.append(f"healthcheck retries: expected {want['retries']}, found {have.retries}")
    return problems


def metadata(image: Image, suite: Suite, case: Case) -> Outcome:
    f = case.fields
    env, labels = image.env, image.labels
    problems = _pairs(env, f["envVars"], "env")
    problems += [
        f"env {p['key']}: should not be set" for p in f["unboundEnvVars"] if p["key"] in env
    ]
    problems += _pairs(labels, f["labels"], "label")
    for key, actual in (
        ("entrypoint", image.entrypoint),
        ("cmd", image.cmd),
        ("shell", image.shell),
        ("onBuild", image.onbuild),
    ):
        if f[key] is not None and list(f[key]) != list(actual or ()):
            problems.append(f"{key}: expected {f[key]!r}, found {list(actual or ())!r}")
    scalars = {"workdir": image.workdir, "user": image.user, "stopSignal": image.stop_signal or ""}
    for key, value in scalars.items():
        if f[key] and f[key] != value:
            problems.append(f"{key}: expected {f[key]!r}, found {value!r}")
    for key, present, values in (
        ("exposedPorts", True, image.exposed_ports),
        ("unexposedPorts", False, image.exposed_ports),
        ("volumes", True, image.volumes),
        ("unmountedVolumes", False, image.volumes),
    ):
        for item in f[key]:
            if (item in values) != present:
                problems.append(f"{key}: {item!r} {'not in' if present else 'in'} {list(values)!r}")
    if f["healthcheck"] is not None:
        problems += _health(image, f["healthcheck"])
    return problems, []


def _license_file(image: Image, path: str) -> str | None:
    file = image.file(path, follow_symlinks=True)
    if not file.is_file:
        return (
            f"{path}: cannot read the license file ({'missing' if not file.exists else file.type})"
        )
    text = file.read_bytes().decode("utf-8", "replace").upper()
    for banned in _LICENSE_BANNED:
        if banned in text:
            return f"{path}: license contains {banned}"
    return None


def licenses(image: Image, suite: Suite, case: Case) -> Outcome:
    problems = []
    if case.fields["debian"]:
        root = "/usr/share/doc"
        if not image.file(root, follow_symlinks=True).is_dir:
            return [f"{root}: missing, so no Debian copyright files to check"], []
        for name in image.listdir(root):
            if (
                name in _LICENSE_ALLOWED
                or not image.file(f"{root}/{name}", follow_symlinks=True).is_dir
            ):
                continue
            problem = _license_file(image, f"{root}/{name}/copyright")
            if problem:
                problems.append(problem)
    for path in case.fields["files"]:
        problem = _license_file(image, path)
        if problem:
            problems.append(problem)
    return problems, []


def command(image: Image, suite: Suite, case: Case) -> Outcome:
    f = case.fields
    env = {key: go_expand(value, image.env) for key, value in suite.global_env}
    base = {**image.env, **env}
    env.update((p["key"], go_expand(p["value"], base)) for p in f["envVars"])
    argv = [go_expand(part, base) for part in (f["command"], *f["args"])]

    def plan(args: list[str]) -> Invocation:
        return resolve(image, args, entrypoint="", user=suite.user, env=env)

    steps = (
        [plan(list(s)) for s in f["setup"]] + [plan(argv)] + [plan(list(s)) for s in f["teardown"]]
    )
    if image.runner is None:
        return ["commandTests need the command runner of the image_factory fixture"], []
    results = image.runner.execute(image, steps)
    setup, result = results[: len(f["setup"])], results[len(f["setup"])]
    problems = _patterns(f, "expectedOutput", result.stdout_text, True)
    problems += _patterns(f, "excludedOutput", result.stdout_text, False)
    problems += _patterns(f, "expectedError", result.stderr_text, True)
    problems += _patterns(f, "excludedError", result.stderr_text, False)
    if result.exit_code != f["exitCode"]:
        problems.insert(0, f"exitCode: expected {f['exitCode']}, found {result.exit_code}")
    notes = [f"setup {list(r.argv)!r} exited {r.exit_code}" for r in setup if r.exit_code]
    return problems, notes + output_notes(result) if problems else []


CHECKS: dict[str, Callable[[Image, Suite, Case], Outcome]] = {
    "fileExistenceTests": file_existence,
    "fileContentTests": file_content,
    "metadataTest": metadata,
    "licenseTests": licenses,
    "commandTests": command,
}
