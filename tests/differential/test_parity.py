"""Each case of ``cases/`` built by docker's legacy builder and by the executor: same image.

Compared: the merged file listing, each layer's own entries, the config, the history and
the layer count (see ``compare.py``); declared docker quirks are in ``quirks.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.differential.builders import Builds
from tests.differential.compare import differences
from tests.differential.corpus import PARITY_DIR, case_names, load_case
from tests.differential.quirks import adjuster

pytestmark = pytest.mark.docker

CASES = case_names(PARITY_DIR)


def test_corpus_size() -> None:
    assert len(CASES) >= 60, f"the parity corpus holds {len(CASES)} cases"


@pytest.mark.parametrize("name", CASES, ids=CASES)
def test_same_image_as_docker(
    name: str,
    differential_builds: Builds,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    case = load_case(PARITY_DIR / name)
    reference = differential_builds.docker_build(case, request)
    ours = differential_builds.executor_build(case, request, tmp_path / "executor.tar")
    quirk = adjuster(name)
    with Image.open(reference) as expected, Image.open(ours) as got:
        report = differences(expected, got, quirk, (reference, ours))
    if report:
        note = f"\n(declared docker quirk: {quirk.reason})" if quirk.reason else ""
        pytest.fail(
            f"case {name}: the executor's image differs from docker's "
            f"(expected = docker, got = executor){note}\n" + "\n".join(report),
            pytrace=False,
        )
