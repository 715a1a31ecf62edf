"""Dockerfiles shaped to break a parser: unterminated heredocs, a 5 MB instruction, a
continuation that never ends, NUL bytes and invalid UTF-8. Each is the project's error at
a line, or an image that holds what the Dockerfile says; none is a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.hostile.harness import assert_located_error, attempt, matrix

BIG = 5 << 20


HEREDOCS = [
    "FROM scratch\nCOPY <<EOF /x\nnever ends\n",
    "FROM scratch\nCOPY <<EOF <<END /x\nEOF\n",
    "FROM scratch\nRUN <<'EOF'\n",
]


@pytest.mark.parametrize(("user", "dockerfile"), matrix(HEREDOCS, {HEREDOCS[0], HEREDOCS[2]}))
def test_unterminated_heredocs(space: Path, user: str, dockerfile: str) -> None:
    context = space / "context"
    context.mkdir()
    outcome = attempt(context, dockerfile, space / "work", user)
    assert_located_error(outcome, "heredoc")
    assert outcome.hint


@pytest.mark.parametrize("user", ["root"])  # parsing does not depend on the user; 5 MB is slow
def test_a_5_mb_instruction(space: Path, user: str) -> None:
    context = space / "context"
    context.mkdir()
    value = "v" * BIG
    outcome = attempt(context, f"FROM scratch\nLABEL big={value}\n", space / "work", user)
    if outcome.error is not None:
        assert_located_error(outcome)
        return
    assert outcome.image is not None
    with Image.open(outcome.image) as image:
        assert image.labels["big"] == value


@pytest.mark.parametrize(
    "dockerfile",
    [
        b"FROM scratch\nLABEL a=b \\\n",
        b"FROM scratch\nLABEL a=\x00b\n",
        b"FROM scratch\nLABEL a=\xff\xfe\n",
    ],
    ids=["endless-continuation", "nul", "not-utf8"],
)
@pytest.mark.parametrize("user", ["root"])  # the parser does not depend on the user
def test_broken_bytes(space: Path, user: str, dockerfile: bytes) -> None:
    context = space / "context"
    context.mkdir()
    outcome = attempt(context, dockerfile, space / "work", user)
    if outcome.error is not None:
        assert_located_error(outcome)
