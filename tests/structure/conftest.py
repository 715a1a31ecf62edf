"""Fixtures: the app image the structure and command tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.structure.images import app_image


@pytest.fixture(scope="session")
def app_image_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox root with metadata of every kind, a setuid busybox and an entrypoint."""
    return app_image(busybox_rootfs_tar, tmp_path_factory)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester whose runs are plain sessions even when this suite runs under xdist."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return pytester
