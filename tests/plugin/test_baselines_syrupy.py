"""The syrupy extension: --snapshot-update writes the baseline text, failures show the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.diff.conftest import base_ref  # noqa: F401  (a fixture)
from tests.plugin.test_baselines import images  # noqa: F401  (a fixture)

TEST = """
from pytest_imagebuild import Image
from pytest_imagebuild.plugin.baselines_syrupy import ImageExtension

def test_app(snapshot):
    with Image.open({path!r}) as image:
        assert image == snapshot(extension_class=ImageExtension)

def test_use_extension(snapshot):
    with Image.open({path!r}) as image:
        assert image == snapshot.use_extension(ImageExtension)
"""


def test_snapshot_update_then_match_then_diff(
    pytester: pytest.Pytester,
    images: tuple[Path, Path],  # noqa: F811
) -> None:
    old, new = images
    pytester.makepyfile(test_app=TEST.format(path=str(old)))
    missing = pytester.runpytest()
    missing.assert_outcomes(failed=2)  # syrupy's rule: no snapshot yet is a failure
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=2)
    stored = pytester.path / "__snapshots__" / "test_app" / "test_app.image.txt"
    text = stored.read_text(encoding="utf-8")
    assert text.startswith("# pytest-imagebuild baseline 1\n")
    assert "\n/bin/true symlink 0777 0:0 -> busybox\n" in text
    pytester.runpytest().assert_outcomes(passed=2)

    pytester.makepyfile(test_app=TEST.format(path=str(new)))
    failed = pytester.runpytest()
    failed.assert_outcomes(failed=2)
    failed.stdout.fnmatch_lines(
        [
            "*the image does not match the snapshot:",
            "*files removed (1):",
            "*  /bin/true (symlink 0777 0:0) -> busybox",
            "*config.env.MODE: 'old' -> 'new'",
        ]
    )
    assert stored.read_text(encoding="utf-8") == text
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=2)
    assert 'config.env.MODE "new"' in stored.read_text(encoding="utf-8")
