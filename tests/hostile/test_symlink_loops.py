"""Symlink loops in the context and in the image: COPY from and into them, WORKDIR and
VOLUME through them. Each ends in the project's error at the instruction, or an image;
nothing loops forever and nothing outside the root is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import assert_located_error, attempt, make_canary, matrix
from tests.image import imagekit as k

LOOPS = [k.symlink("loop", "loop"), k.symlink("a", "b"), k.symlink("b", "a"), k.directory("d")]


def context_with_loops(space: Path) -> Path:
    context = space / "context"
    context.mkdir()
    (context / "loop").symlink_to("loop")
    (context / "a").symlink_to("b")
    (context / "b").symlink_to("a")
    (context / "ok").write_text("ok\n")
    return context


INSTRUCTIONS = ["COPY loop/x /x", "COPY a /a", "COPY ok /loop/", "WORKDIR /loop/w", "VOLUME /a/v"]


# the same in-root resolver for both users: two cases keep the rootless run short
@pytest.mark.parametrize(
    ("user", "instruction"), matrix(INSTRUCTIONS, {"COPY ok /loop/", "WORKDIR /loop/w"})
)
def test_loops_in_the_image(space: Path, user: str, instruction: str) -> None:
    host = make_canary(space)
    layer = k.layer(LOOPS)
    layout = k.oci_layout(space / "base", [k.Spec([layer], k.config([layer]))])
    context = context_with_loops(space)
    outcome = attempt(context, f"FROM oci:{layout}\n{instruction}\n", space / "work", user, host)
    if instruction.startswith("COPY a") or instruction.startswith("COPY loop"):
        assert_located_error(outcome)  # a source loop in the context
        return
    if instruction.startswith("VOLUME"):
        assert outcome.error is None, outcome.error  # VOLUME only records the path, as docker
        return
    assert_located_error(outcome, "symbolic links")
    assert outcome.location is not None
    assert outcome.location.endswith(":2")


def test_context_loops_copied_as_links(space: Path, user: str) -> None:
    """COPY of a directory holding loops copies the links themselves, as docker does."""
    context = context_with_loops(space)
    outcome = attempt(context, "FROM scratch\nCOPY . /ctx/\n", space / "work", user)
    assert outcome.error is None, outcome.error
