"""Approved baselines through pytest itself: written, failing, allowlisted, updated."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from tests.diff.conftest import base_ref  # noqa: F401  (a fixture)

TEST = """
from pytest_imagebuild import Image

def test_app(image_baseline):
    with Image.open({path!r}) as image:
        image_baseline(image, "app")
"""


@pytest.fixture(scope="module")
def images(base_ref: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # noqa: F811
    out = []
    tails = (
        "RUN echo 1 > /version && mkdir /data\nENV MODE=old\n",
        "RUN echo 2 > /version && mkdir /data && chmod 700 /data && rm /bin/true\nENV MODE=new\n",
    )
    for n, tail in enumerate(tails):
        context = tmp_path_factory.mktemp(f"baseline{n}")
        (context / "Dockerfile").write_text(f"FROM {base_ref}\n{tail}")
        tar = context / "image.tar"
        build(BuildOptions(context=str(context), no_push=True, tar_path=tar), verbose=False)
        out.append(tar)
    return out[0], out[1]


def test_written_then_failing_then_allowed_then_updated(
    pytester: pytest.Pytester, images: tuple[Path, Path]
) -> None:
    old, new = images
    pytester.makepyfile(test_app=TEST.format(path=str(old)))
    pytester.runpytest().assert_outcomes(passed=1)
    baseline = pytester.path / "__baselines__" / "app.txt"
    text = baseline.read_text()
    assert text.startswith("# pytest-imagebuild baseline 1\n[config]\n")
    assert 'config.env.MODE "old"\n' in text
    assert "\n/bin/true symlink 0777 0:0 -> busybox\n" in text
    assert "\n/data dir 0755 0:0\n" in text
    assert "mtime" not in text
    assert "config.created" not in text
    assert [p.name for p in baseline.parent.iterdir()] == ["app.txt"]  # no temp file left

    pytester.makepyfile(test_app=TEST.format(path=str(new)))
    failed = pytester.runpytest()
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            f"*the image does not match the baseline {baseline}:",
            "files removed (1):",
            "  /bin/true (symlink 0777 0:0) -> busybox",
            "config (1):",
            "  config.env.MODE: 'old' -> 'new'",
            "files changed (2):",
            "  /data: mode: 0755 -> 0700",
            "  /version: sha256: '*' -> '*'",
            "*--imagebuild-update-baselines*",
        ]
    )
    assert "Traceback" not in failed.stdout.str()
    assert baseline.read_text() == text  # a failure never rewrites

    allow = baseline.with_suffix(".allow")
    allow.write_text("# expected in this bump\n/bin/true\n/data:mode\nconfig.env.MODE\n")
    still = pytester.runpytest()
    still.assert_outcomes(failed=1)
    still.stdout.fnmatch_lines(["files changed (1):", "  /version: sha256: *"])
    allow.write_text("/bin/true\n/data:mode\nconfig.env.MODE\n/version:sha256\n")
    pytester.runpytest().assert_outcomes(passed=1)
    allow.unlink()

    pytester.runpytest("--imagebuild-update-baselines").assert_outcomes(passed=1)
    updated = baseline.read_text()
    assert updated != text
    assert 'config.env.MODE "new"' in updated
    assert "/bin/true " not in updated
    pytester.runpytest().assert_outcomes(passed=1)


def test_plain_function_and_ini_key(pytester: pytest.Pytester, images: tuple[Path, Path]) -> None:
    old, new = images
    body = (
        "from pytest_imagebuild import Image, assert_matches_baseline\n"
        "def test_plain():\n"
        "    with Image.open({path!r}) as image:\n"
        "        assert_matches_baseline(image, 'plain')\n"
    )
    pytester.makepyfile(test_plain=body.format(path=str(old)))
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.makepyfile(test_plain=body.format(path=str(new)))
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.makeini("[pytest]\nimagebuild_update_baselines = true\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert 'config.env.MODE "new"' in (pytester.path / "__baselines__" / "plain.txt").read_text()


def test_bad_name_and_malformed_baseline_are_clear_errors(
    pytester: pytest.Pytester, images: tuple[Path, Path]
) -> None:
    old, _ = images
    pytester.makepyfile(
        test_names=(
            "import pytest\n"
            "from pytest_imagebuild import Image, UsageError, assert_matches_baseline\n"
            "def test_escape():\n"
            f"    with Image.open({str(old)!r}) as image, pytest.raises(UsageError):\n"
            "        assert_matches_baseline(image, '../outside')\n"
        )
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / "outside.txt").exists()
    folder = pytester.path / "__baselines__"
    folder.mkdir()
    (folder / "app.txt").write_text(
        "# pytest-imagebuild baseline 1\n[files]\n/x file notoctal 0:0\n"
    )
    pytester.makepyfile(test_app=TEST.format(path=str(old)))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"{folder / 'app.txt'}:3: malformed baseline line*", "  hint: *"])
    assert "Traceback" not in result.stdout.str()
    assert "baselines_format.py" not in result.stdout.str()
