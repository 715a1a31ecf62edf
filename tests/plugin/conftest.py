"""Fixtures for the plugin tests: sample image tarballs and a pytester project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.plugin.imagetar import write_sample


@pytest.fixture
def sample_tar(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "sample.tar")


@pytest.fixture
def sample(sample_tar: Path) -> Iterator[Image]:
    with Image.open(sample_tar) as opened:
        yield opened


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester whose runs do not believe they are xdist workers when this suite runs
    under ``-n``: the inner run is a plain session."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return pytester


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with images/app.tar and warnings as errors."""
    write_sample(pytester.path / "images" / "app.tar")
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    return pytester
