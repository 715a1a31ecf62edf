"""The hostile cases run as root and as an unprivileged user with subordinate ids."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.harness import USERS, workspace


@pytest.fixture(params=USERS)
def user(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def space(tmp_path: Path, user: str) -> Iterator[Path]:
    """A directory for one case, usable by ``user``; removed afterwards."""
    path = workspace(tmp_path, user)
    yield path
    if path != tmp_path:
        shutil.rmtree(path)
