"""BuildKit's envVarTest (one word) and wordsTest (word splitting) expansion cases."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_imagebuild.builder.dockerfile import expand_word, split_words
from pytest_imagebuild.errors import DockerfileError
from tests.builder.test_parser_conformance import conformance_dir

ENV_VAR_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


@dataclass(frozen=True)
class Case:
    line: int
    source: str
    expected: str | list[str]
    env: dict[str, str]


def env_var_cases() -> list[Case]:
    text = (conformance_dir() / "buildkit" / "shell" / "envVarTest").read_text("utf-8")
    cases = []
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#") or not raw.strip():
            continue
        platform, source, expected = (part.strip() for part in raw.strip().split("|"))
        assert platform in ("A", "U", "W"), f"line {number}: bad platform {platform!r}"
        if platform != "W":
            cases.append(Case(number, source, expected, ENV_VAR_ENV))
    return cases


def words_cases() -> list[Case]:
    text = (conformance_dir() / "buildkit" / "shell" / "wordsTest").read_text("utf-8")
    env: dict[str, str] = {}
    cases = []
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#"):
            continue
        if raw.startswith("ENV "):
            name, _, value = raw[3:].lstrip(" ").partition("=")
            env = {**env, name: value}
            continue
        source, expected = raw.split("|")
        cases.append(Case(number, source.strip(), expected.lstrip(" ").split(","), env))
    return cases


def test_env_var_cases() -> None:
    cases = env_var_cases()
    assert len(cases) > 200
    failures = []
    for case in cases:
        try:
            result = expand_word(case.source, case.env)
        except DockerfileError as error:
            if case.expected != "error":
                failures.append(f"line {case.line}: {case.source!r} raised {error}")
            continue
        if result != case.expected:
            failures.append(f"line {case.line}: {case.source!r} -> {result!r} != {case.expected!r}")
    assert failures == []


def test_words_cases() -> None:
    cases = words_cases()
    assert len(cases) > 20
    failures = []
    for case in cases:
        try:
            result = split_words(case.source, case.env)
        except DockerfileError:
            result = ["error"]
        if result != case.expected:
            failures.append(f"line {case.line}: {case.source!r} -> {result!r} != {case.expected!r}")
    assert failures == []


@pytest.mark.parametrize("escape", ["\\", "`"])
def test_escape_token_is_configurable(escape: str) -> None:
    assert expand_word(f"a{escape}$PWD b", ENV_VAR_ENV, escape) == "a$PWD b"
    assert split_words(f"a{escape} b $PWD", ENV_VAR_ENV, escape) == ["a b", "/home"]
