"""Fixtures for the plugin tests: sample image tarballs and a pytester project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# httpx imports httpcore on first use and then maps httpcore's exceptions to its own by
# class. pytester drops modules first imported during a test when the test ends, so a
# second import would bring new exception classes that httpx no longer recognises: import
# httpcore before any test runs.
import httpcore  # noqa: F401
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
