"""Stage graphs a Dockerfile cannot mean: a cycle through COPY --from, a stage copying
from itself by name or by index. Each is the project's error at the line. (``FROM b AS
a`` naming a later stage names an image, as in docker: see test_missing_bases.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import assert_located_error, attempt, matrix

DOCKERFILES = {
    "copy-cycle": (
        "FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n"
    ),
    "copy-from-itself": "FROM scratch AS self\nCOPY --from=self /x /x\n",
    "copy-from-own-index": "FROM scratch\nCOPY --from=0 /x /x\n",
}


# planning does not depend on the user: one case keeps the rootless run short
@pytest.mark.parametrize(("user", "case"), matrix(sorted(DOCKERFILES), {"copy-from-itself"}))
def test_impossible_stage_graphs(space: Path, user: str, case: str) -> None:
    context = space / "context"
    context.mkdir()
    outcome = attempt(context, DOCKERFILES[case], space / "work", user)
    assert_located_error(outcome)
