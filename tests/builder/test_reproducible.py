"""``SOURCE_DATE_EPOCH`` (BuildKit's meaning) and kaniko's ``--reproducible``: the same
inputs built at other times, from other copies of the context, give the same digest."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.builder.test_cli import imagebuild

EPOCH = 1_700_000_000
EPOCH_TEXT = "2023-11-14T22:13:20Z"


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base(busybox_rootfs, tmp_path_factory.mktemp("reprobase"))[1]


def _context(where: Path, base: Path) -> Path:
    return write_tree(
        where,
        {
            "Dockerfile": f"FROM oci:{base}\nCOPY f /app/f\n"
            "RUN mkdir -p /made/deep && echo x > /made/deep/file\nENV A=1\n",
            "f": "content\n",
        },
    )


def _build(ctx: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = imagebuild(
        "-c", ctx, "--no-push", "--tar-path", out, "--log-format", "plain", *args, env=env
    )
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"built (sha256:[0-9a-f]{64})", proc.stderr)
    assert found is not None, proc.stderr
    return found[1]


def _own_layer_times(image: Image, first_own: int) -> set[int]:
    return {
        f.mtime
        for index in range(first_own, len(image.layers))
        for f in image.layer_files(index)
        if f.mtime is not None
    }


def test_two_builds_at_different_times_give_one_digest(base: Path, tmp_path: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": str(EPOCH)}
    first = _build(_context(tmp_path / "a", base), tmp_path / "a.tar", env=env)
    time.sleep(1.1)  # another second: every new file and directory time differs
    other = _context(tmp_path / "b", base)  # another checkout: other file times
    os.utime(other / "f", (EPOCH + 10**6, EPOCH + 10**6))
    second = _build(other, tmp_path / "b.tar", env=env)
    assert first == second
    with Image.open(tmp_path / "b.tar") as image:
        assert image.created == EPOCH_TEXT
        assert {h.created for h in image.history[-3:]} == {EPOCH_TEXT}
        assert max(_own_layer_times(image, 1)) <= EPOCH
        assert image.file("/bin/busybox").mtime != EPOCH  # base layers are left as they are
    without = _build(_context(tmp_path / "c", base), tmp_path / "c.tar")
    assert without != first


def test_the_build_argument_counts_too(base: Path, tmp_path: Path) -> None:
    by_env = _build(
        _context(tmp_path / "a", base), tmp_path / "a.tar", env={"SOURCE_DATE_EPOCH": "1"}
    )
    by_arg = _build(
        _context(tmp_path / "b", base), tmp_path / "b.tar", "--build-arg", "SOURCE_DATE_EPOCH=1"
    )
    assert by_env == by_arg


def test_reproducible_is_epoch_zero(base: Path, tmp_path: Path) -> None:
    one = _build(_context(tmp_path / "a", base), tmp_path / "a.tar", "--reproducible")
    time.sleep(1.1)
    two = _build(_context(tmp_path / "b", base), tmp_path / "b.tar", "--reproducible")
    assert one == two
    with Image.open(tmp_path / "a.tar") as image:
        assert image.created == "1970-01-01T00:00:00Z"
        assert _own_layer_times(image, 1) == {0}


def test_cached_layers_of_an_unclamped_build_are_not_reused(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path / "ctx", base)
    cache = ("--cache", "--cache-dir", str(tmp_path / "cache"), "--cache-copy-layers")
    _build(ctx, tmp_path / "plain.tar", *cache)
    clamped = _build(ctx, tmp_path / "clamped.tar", *cache, env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    fresh_cache = ("--cache", "--cache-dir", str(tmp_path / "fresh"), "--cache-copy-layers")
    shutil.rmtree(tmp_path / "fresh", ignore_errors=True)
    alone = _build(ctx, tmp_path / "alone.tar", *fresh_cache, env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    assert clamped == alone
    with Image.open(tmp_path / "clamped.tar") as image:
        assert max(_own_layer_times(image, 1)) <= EPOCH


def test_a_bad_epoch_is_a_usage_error(tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n"})
    proc = imagebuild("-c", ctx, "--no-push", env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert proc.returncode == 2
    assert "invalid SOURCE_DATE_EPOCH 'yesterday'" in proc.stderr
