"""``.dockerignore`` patterns: any pattern compiles or is the project's error, matching runs
in linear time, and the linear-time engine agrees with Python's ``re`` where both finish."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_imagebuild.builder.context import PatternMatcher
from pytest_imagebuild.errors import ContextError

from .strategies import ignore_patterns, relative_paths


@settings(max_examples=400)
@given(st.lists(ignore_patterns(), min_size=1, max_size=4), relative_paths())
def test_any_pattern_compiles_or_is_a_context_error(patterns: list[str], path: str) -> None:
    try:
        matcher = PatternMatcher(patterns)
    except ContextError as error:
        message = error.message
    else:
        matcher.excluded(path)
        matcher.skipped_dir(path)
        message = "bad ignore pattern: none, it compiled"
    assert "bad ignore pattern" in message or "exclusion pattern" in message


@settings(max_examples=400)
@given(ignore_patterns(), relative_paths())
def test_the_linear_engine_agrees_with_re(pattern: str, path: str) -> None:
    try:
        matcher = PatternMatcher([pattern])
    except ContextError:
        return
    if not matcher.patterns or matcher.patterns[0].exclusion:
        return
    try:
        reference = re.compile(matcher.patterns[0].regex, re.DOTALL)
    except re.error:
        return  # syntax that Python's re refuses; RE2 (Go's dialect) is the judge there
    path = path.replace("\udcff", "\ufffd")
    assert matcher.matches(path) == any(
        reference.fullmatch("/".join(path.split("/")[: i + 1])) for i in range(path.count("/") + 1)
    )


def test_a_backtracking_bomb_is_matched_in_linear_time() -> None:
    matcher = PatternMatcher(["*a*a*a*a*a*a*a*a*a*a*b", "**/**/**/**/**/**/**/**/x"])
    started = time.monotonic()
    for depth in range(50):
        assert not matcher.excluded("a" * 4000 + f"/{depth}")
        assert not matcher.excluded("/".join(["y"] * 400) + f"/{depth}")
    assert time.monotonic() - started < 1


def test_names_that_are_not_utf8_match_as_go_reads_them() -> None:
    matcher = PatternMatcher(["caf?.txt", "*.log"])
    assert matcher.excluded("caf\udce9.txt")
    assert matcher.excluded("d/x\udcff.log") is False
    assert matcher.excluded("x\udcff.log")
