"""Random-order reads from gzip and zstd layers: window, checkpoints, restarts."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from pytest_imagebuild.image import compressed as compressed_module
from tests.image import imagekit as k

CONTENTS = {f"d{i % 7}/f{i}": os.urandom(random.Random(i).randrange(0, 40000)) for i in range(120)}


def build(tmp_path: Path, compression: str) -> tuple[Path, k.Layer]:
    tar = k.tar_bytes([k.file(name, data) for name, data in CONTENTS.items()])
    if compression == "gzip-multi":
        half = len(tar) // 2
        blob = gzip.compress(tar[:half], mtime=0) + gzip.compress(tar[half:], mtime=0)
    else:
        blob = k.compress(tar, compression)
    lay = k.Layer(tar, blob)
    return k.docker_archive(tmp_path / "i.tar", k.Spec([lay], k.config([lay]))), lay


@pytest.mark.parametrize("compression", ["gzip", "gzip-multi", "zstd"])
def test_random_order_reads(
    tmp_path: Path, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compressed_module, "WINDOW", 64 << 10)
    monkeypatch.setattr(compressed_module, "CHECKPOINT", 256 << 10)
    path, _ = build(tmp_path, compression)
    names = list(CONTENTS)
    random.Random(7).shuffle(names)
    with Image.open(path) as image:
        for name in names + names[:10]:
            assert image.file(name).read_bytes() == CONTENTS[name], name
        data = image._fs.data[0].compressed
        assert data is not None
        if compression.startswith("gzip"):
            assert len(data.checkpoints) >= 3


def test_path_order_reads_stay_in_window(tmp_path: Path) -> None:
    path, _ = build(tmp_path, "gzip")
    with Image.open(path) as image:
        for f in image.walk():
            if f.is_file:
                assert f.read_bytes() == CONTENTS[f.path[1:]]
