"""BuildKit's parser testfiles: our parse tree, dumped, must equal Docker's."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.dockerfile import dump, parse_tree
from pytest_imagebuild.errors import DockerfileError


def conformance_dir() -> Path:
    """``<workspace>/shared/conformance``, found by walking up from this file.

    The repository sits next to ``shared/`` (``Path(__file__).parents[3]``); walking up
    keeps working from another checkout depth. Missing data fails the test, never skips.
    """
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "conformance"
        if candidate.is_dir():
            return candidate
    pytest.fail(f"conformance data missing: no shared/conformance above {here}")


def case_dirs(kind: str) -> list[Path]:
    """Parser cases of ``kind``; a placeholder case (that fails) when the data is missing."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        root = parent / "shared" / "conformance" / "buildkit" / "parser" / kind
        if root.is_dir():
            return sorted(p for p in root.iterdir() if (p / "Dockerfile").is_file())
    return [here.parent / f"missing-conformance-{kind}"]


POSITIVE = case_dirs("testfiles")
NEGATIVE = case_dirs("testfiles-negative")


def test_conformance_data_present() -> None:
    parser_dir = conformance_dir() / "buildkit" / "parser"
    assert (parser_dir / "testfiles").is_dir()
    assert len(POSITIVE) >= 30, "expected BuildKit's parser testfiles"
    assert len(NEGATIVE) >= 4


@pytest.mark.parametrize("case", POSITIVE, ids=[p.name for p in POSITIVE])
def test_parse_tree_matches_docker(case: Path) -> None:
    conformance_dir()
    dockerfile = parse_tree((case / "Dockerfile").read_bytes(), path=str(case / "Dockerfile"))
    expected = (case / "result").read_text(encoding="utf-8")
    assert dump(dockerfile) == expected


@pytest.mark.parametrize("case", NEGATIVE, ids=[p.name for p in NEGATIVE])
def test_negative_cases_fail_with_location(case: Path) -> None:
    conformance_dir()
    path = str(case / "Dockerfile")
    with pytest.raises(DockerfileError) as info:
        parse_tree((case / "Dockerfile").read_bytes(), path=path)
    location = info.value.location
    assert location is not None
    assert location.path == path
    assert isinstance(location.line, int)
    assert location.line >= 1
    assert str(info.value).startswith(f"{path}:{location.line}: ")
