"""``assert_command`` and ``image.run`` through the plugin's fixtures, as a user writes them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.structure.images import app_image

TESTS = """
import re

from pytest_imagebuild import assert_command


def test_entrypoint_and_cmd(image):
    result = assert_command(image, stdout="app serve\\n", stderr_contains="user 1000:1000")
    assert result.stdout == b"app serve\\n"


def test_everything_checked(image):
    assert_command(
        image,
        "echo out; echo err >&2; exit 3",
        exit_code=3,
        stdout_contains=[re.compile(r"^out$", re.M), b"out"],
        stdout_excludes="err",
        stderr="err\\n",
        stderr_excludes=re.compile("out"),
        env={"X": "1"},
        user="root",
        workdir="/tmp",
        stdin="",
    )


def test_fails_with_every_mismatch(image):
    assert_command(
        image,
        "echo hello; echo warn >&2; exit 2",
        stdout="bye\\n",
        stdout_contains="missing",
        stderr_excludes="warn",
    )


def test_factory_images_run(image_factory):
    opened = image_factory.open("image.tar")
    assert opened.run("pwd", workdir="/data").stdout_text == "/data\\n"
"""


@pytest.fixture(scope="module")
def app_image_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_image(busybox_rootfs_tar, tmp_path_factory)


def test_assert_command_through_the_image_fixture(
    pytester: pytest.Pytester, app_image_tar: Path
) -> None:
    shutil.copyfile(app_image_tar, pytester.path / "image.tar")
    pytester.makeini("[pytest]\nfilterwarnings = error\nimagebuild_image = image.tar\n")
    pytester.makepyfile(test_app=TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: command ['/bin/sh', '-c', 'echo hello; echo warn >&2; "
            "exit 2']: 4 mismatches",
            "E         exit_code: expected 0, found 2",
            "E         stdout: expected 'bye\\n', found 'hello\\n'",
            "E         stdout_contains: 'missing' not found",
            "E         stderr_excludes: 'warn' found",
            "E       command: ['/bin/sh', '-c', 'echo hello; echo warn >&2; exit 2']",
            "E       exit code: 2",
            "E       stdout (6 bytes):",
            "E           hello",
            "E       stderr (5 bytes):",
            "E           warn",
        ]
    )
