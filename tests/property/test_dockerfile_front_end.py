"""Any Dockerfile text gives a parsed, planned and expanded result or the project's error:
never another exception, never Python's recursion limit, in bounded time."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings

from pytest_imagebuild.builder.dockerfile import (
    EXPANDING,
    arg_decls,
    copy_spec,
    expand_instruction,
    expand_word,
    from_spec,
    healthcheck_spec,
    parse,
    split_words,
)
from pytest_imagebuild.builder.plan import make_plan
from pytest_imagebuild.errors import ImageBuildError

from .strategies import dockerfiles, nested_words, words

ENV = {"A": "a*b/c", "E": ""}
SHAPES = {
    "FROM": from_spec,
    "ARG": arg_decls,
    "COPY": copy_spec,
    "ADD": copy_spec,
    "HEALTHCHECK": healthcheck_spec,
}


def front_end(text: str) -> None:
    """What a build does with the Dockerfile before it touches a file."""
    plan = make_plan(parse(text), build_args={"A": "x"})
    for stage in plan.stages:
        for instruction in stage.instructions:
            if instruction.keyword.upper() in EXPANDING:
                instruction = expand_instruction(
                    instruction, ENV, escape=plan.escape, path=plan.path
                )
            shape = SHAPES.get(instruction.keyword.upper())
            if shape is not None:
                shape(instruction)


@settings(max_examples=400)
@given(dockerfiles())
def test_any_dockerfile_parses_or_fails_with_the_projects_error(text: str) -> None:
    try:
        front_end(text)
    except ImageBuildError as error:
        message = error.message
    else:
        message = "parsed"
    assert message


@settings(max_examples=300)
@given(words())
def test_any_word_expands_or_fails_with_the_projects_error(word: str) -> None:
    for expand in (expand_word, split_words):
        try:
            expand(word, ENV)
        except ImageBuildError as error:
            message = error.message
        else:
            message = "failed to process: nothing, it expanded"
        assert "failed to process" in message


@settings(max_examples=60)
@given(nested_words())
def test_deep_nesting_is_an_error_not_a_crash(word: str) -> None:
    try:
        expand_word(word, ENV)
    except ImageBuildError as error:
        message = error.message
    else:
        message = "expanded"
    assert len(message) < 400  # the message shows the start of the word only


def test_two_thousand_nested_defaults_are_refused_with_a_message() -> None:
    word = "${A:-" * 2000 + "x" + "}" * 2000
    started = time.monotonic()
    with pytest.raises(ImageBuildError, match="nested more than 100 deep"):
        expand_word(word, {})
    assert time.monotonic() - started < 1


def test_a_deep_json_array_is_shell_form_not_a_crash() -> None:
    text = "FROM scratch\nCMD " + "[" * 100_000 + "\n"
    instruction = parse(text).instructions[-1]
    assert not instruction.json


def test_patterns_that_backtrack_exponentially_in_re_run_in_linear_time() -> None:
    value = "a" * 20_000
    word = "${V#" + "*a" * 12 + "*b}${V%" + "a*" * 12 + "b*}${V/" + "*a" * 12 + "*b/x}"
    started = time.monotonic()
    assert expand_word(word, {"V": value}) == value * 3
    assert time.monotonic() - started < 1


def test_a_five_megabyte_instruction_parses() -> None:
    text = "FROM scratch\nLABEL big=" + "x" * 5_000_000 + "\n"
    started = time.monotonic()
    front_end(text)
    assert time.monotonic() - started < 10
