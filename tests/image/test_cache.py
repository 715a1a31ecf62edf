"""The index cache: one file per layer digest; a reopen does not re-read layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.image import imagekit as k


def build(tmp_path: Path) -> tuple[Path, k.Spec]:
    base = k.layer([k.file("a", b"A" * 3000), k.symlink("l", "a")], "gzip")
    top = k.layer([k.file("b", b"B", xattrs={"user.x": b"1"})])
    spec = k.Spec([base, top], k.config([base, top]))
    return k.oci_layout(tmp_path / "layout", [spec]), spec


def test_cache_files_are_keyed_by_digest(tmp_path: Path) -> None:
    layout, spec = build(tmp_path)
    cache = tmp_path / "cache"
    with Image.open(layout, index_cache=cache):
        pass
    names = sorted(p.name for p in cache.iterdir())
    assert names == sorted(lay.digest.replace(":", "-") + ".idx" for lay in spec.layers)


def test_reopen_uses_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout, _ = build(tmp_path)
    cache = tmp_path / "cache"
    with Image.open(layout, index_cache=cache) as first:
        expected = list(first.walk())

    def fail(*args: object) -> None:
        raise AssertionError("layer was indexed again")

    monkeypatch.setattr("pytest_imagebuild.image.layer.iter_members", fail)
    with Image.open(layout, index_cache=cache) as again:
        assert list(again.walk()) == expected
        assert again.file("/l").read_bytes() == b"A" * 3000
        assert again.file("/b").xattrs == {"user.x": b"1"}


def test_corrupt_cache_file_is_rebuilt(tmp_path: Path) -> None:
    layout, _ = build(tmp_path)
    cache = tmp_path / "cache"
    with Image.open(layout, index_cache=cache):
        pass
    for path in cache.iterdir():
        path.write_bytes(b"\x00garbage")
    with Image.open(layout, index_cache=cache) as image:
        assert image.file("/a").size == 3000
    assert all(p.stat().st_size > 100 for p in cache.iterdir())


def test_unwritable_cache_is_ignored(tmp_path: Path) -> None:
    layout, _ = build(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with Image.open(layout, index_cache=blocker / "cache") as image:
        assert image.file("/b").exists
