"""``imagebuild diff``: exit codes, the table, JSON, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_imagebuild", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default index cache goes under this test's own cache home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    return tmp_path / "cache-home"


@pytest.fixture(scope="module")
def images(base_ref: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = []
    for n, tail in enumerate(("RUN echo a > /a\n", "RUN echo b > /a && chmod 600 /a\nENV X=1\n")):
        context = tmp_path_factory.mktemp(f"cli{n}")
        (context / "Dockerfile").write_text(f"FROM {base_ref}\n{tail}")
        tar = context / "image.tar"
        build(BuildOptions(context=str(context), no_push=True, tar_path=tar), verbose=False)
        out.append(tar)
    return out[0], out[1]


def test_same_image_exits_0(images: tuple[Path, Path]) -> None:
    done = run("diff", str(images[0]), str(images[0]))
    assert (done.returncode, done.stdout, done.stderr) == (0, "no differences\n", "")


def test_different_images_exit_1_with_a_table(images: tuple[Path, Path]) -> None:
    done = run("diff", str(images[0]), str(images[1]), "--semantic")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["WHAT", "FIELD", "VALUE"]
    assert any(line.split()[:3] == ["~", "/a", "mode"] and "0644 -> 0600" in line for line in lines)
    assert any(line.split()[:3] == ["~", "config", "config.env.X"] for line in lines)
    assert not any("mtime" in line for line in lines)


def test_json_is_stable_and_versioned(images: tuple[Path, Path]) -> None:
    first = run("diff", str(images[0]), str(images[1]), "--json", "--ignore", "mtime")
    second = run("diff", str(images[0]), str(images[1]), "--json", "--ignore", "mtime")
    assert first.returncode == 1
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert doc["schema_version"] == 2
    assert doc["packages"] == []
    assert doc["same"] is False
    changed = {c["path"]: c["changes"] for c in doc["changed"]}
    assert {"field": "mode", "old": "0644", "new": "0600"} in changed["/a"]
    assert {"field": "config.env.X", "old": None, "new": "1"} in doc["config"]


def test_ignore_rules_make_it_the_same(images: tuple[Path, Path]) -> None:
    done = run(
        "diff", str(images[0]), str(images[1]), "--semantic",
        "--ignore", "/a", "--ignore", "config.env", "--ignore", "layers", "--ignore", "history",
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "no differences\n"), done.stderr


def test_errors_exit_2_without_traceback(images: tuple[Path, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar" * 100)
    for args in (
        ("diff", str(images[0]), str(tmp_path / "missing.tar")),
        ("diff", str(images[0]), str(junk)),
        ("diff", str(images[0])),
        ("diff", str(images[0]), str(images[1]), "--ignore", "  "),
    ):
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "imagebuild diff: error:" in done.stderr
        assert "Traceback" not in done.stderr


def test_build_stays_the_default_command(tmp_path: Path) -> None:
    done = run("--context", str(tmp_path))
    assert done.returncode == 2
    assert "--destination" in done.stderr


def test_layer_indexes_are_kept_for_the_next_diff(
    images: tuple[Path, Path], cache_home: Path, tmp_path: Path
) -> None:
    first = run("diff", str(images[0]), str(images[1]), "--json")
    kept = sorted((cache_home / "imagebuild" / "index").iterdir())
    assert kept  # one index per layer digest
    assert {p.suffix for p in kept} == {".idx"}
    again = run("diff", str(images[0]), str(images[1]), "--json")
    assert (again.returncode, again.stdout) == (first.returncode, first.stdout)
    elsewhere = tmp_path / "idx"
    run("diff", str(images[0]), str(images[1]), "--index-cache", str(elsewhere))
    assert sorted(p.name for p in elsewhere.iterdir()) == [p.name for p in kept]
    none = tmp_path / "home2"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_imagebuild", "diff", "--no-index-cache",
         str(images[0]), str(images[1])],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "XDG_CACHE_HOME": str(none)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert not none.exists()
