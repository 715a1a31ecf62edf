"""image.run's streams: stdin as str or bytes, stderr apart or merged into stdout in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.runner import SandboxRunner
from tests.structure.images import app_image

INTERLEAVED = "echo out1; echo err1 >&2; echo out2; echo err2 >&2; cat; exit 3"


@pytest.fixture(scope="module")
def app_image_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_image(busybox_rootfs_tar, tmp_path_factory)


@pytest.fixture
def app(app_image_tar: Path, tmp_path: Path) -> Iterator[Image]:
    with Image.open(app_image_tar) as opened:
        opened.runner = SandboxRunner(tmp_path)
        yield opened


def test_stderr_apart_by_default(app: Image) -> None:
    result = app.run(INTERLEAVED, stdin=b"in\x00bytes")
    assert (result.exit_code, result.stdout, result.stderr) == (
        3,
        b"out1\nout2\nin\x00bytes",
        b"err1\nerr2\n",
    )
    assert result.merged_output is False


def test_stderr_into_stdout_keeps_the_order(app: Image) -> None:
    result = app.run(INTERLEAVED, stdin="text in\n", stderr="stdout")
    assert result.exit_code == 3
    assert result.stdout_text == "out1\nerr1\nout2\nerr2\ntext in\n"
    assert (result.stderr, result.merged_output) == (b"", True)


def test_stderr_takes_pipe_or_stdout_only(app: Image) -> None:
    with pytest.raises(UsageError, match="stderr must be 'pipe' or 'stdout', not 'file'"):
        app.run("true", stderr="file")
