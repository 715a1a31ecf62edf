"""BuildKit-only syntax, which docker's legacy builder refuses: the executor against
hand-written expected trees and config (``buildkit_cases/<name>/expected.json``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.differential.builders import Builds
from tests.differential.corpus import BUILDKIT_DIR, case_names, load_case
from tests.differential.expected import load, problems

pytestmark = pytest.mark.docker

CASES = case_names(BUILDKIT_DIR)
REJECTED = [name for name in CASES if load(BUILDKIT_DIR / name).get("legacy") == "rejects"]


@pytest.mark.parametrize("name", CASES, ids=CASES)
def test_matches_documented_buildkit_result(
    name: str, differential_builds: Builds, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    case = load_case(BUILDKIT_DIR / name)
    expected = load(case.path)
    out = differential_builds.executor_build(case, request, tmp_path / "executor.tar")
    base_layers = differential_builds.base_layer_count(case, request)
    with Image.open(out) as image:
        found = problems(image, expected, base_layers, differential_builds.context(case))
    if found:
        pytest.fail(f"case {name}:\n" + "\n".join(found), pytrace=False)


@pytest.mark.parametrize("name", REJECTED, ids=REJECTED)
def test_legacy_builder_rejects(
    name: str, differential_builds: Builds, request: pytest.FixtureRequest
) -> None:
    """The case really is BuildKit-only: docker's legacy builder refuses it."""
    proc = differential_builds.docker_attempt(load_case(BUILDKIT_DIR / name), request)
    assert proc.returncode != 0, (
        f"docker's legacy builder accepted {name}; it belongs in cases/ with a docker reference"
    )
