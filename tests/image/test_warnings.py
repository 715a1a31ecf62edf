"""``Image.warnings``: what reading the layers passed over, said once per item and kept by
the index cache (a GNU volume label, written by ``tar --format=gnu --label``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pytest_imagebuild.image import Image
from tests.image import imagekit as k


def labelled_layout(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "plain").write_text("plain\n")
    tar = tmp_path / "layer.tar"
    subprocess.run(
        ["tar", "--format=gnu", "--label=VOLUME", "-C", tree, "-cf", tar, "."], check=True
    )
    raw = tar.read_bytes()
    plain = k.layer([k.file("other", b"o")])
    labelled = k.Layer(raw, raw)
    return k.oci_layout(
        tmp_path / "layout", [k.Spec([plain, labelled], k.config([plain, labelled]))]
    )


def test_a_volume_label_is_a_warning(tmp_path: Path) -> None:
    layout = labelled_layout(tmp_path)
    expected = ("layer 1: GNU volume label 'VOLUME' passed over (it names no file)",)
    cache = tmp_path / "cache"
    for _ in range(2):  # indexed, then from the index cache
        with Image.open(layout, index_cache=cache) as image:
            assert image.warnings == expected
            assert image.file("/plain").read_text() == "plain\n"
            assert not image.file("/VOLUME").exists


def test_no_warnings_for_plain_layers(tmp_path: Path) -> None:
    layer = k.layer([k.file("a", b"a")])
    layout = k.oci_layout(tmp_path / "layout", [k.Spec([layer], k.config([layer]))])
    with Image.open(layout) as image:
        assert image.warnings == ()
