"""Hostile or broken input fails with ImageFormatError naming the culprit."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image import Image
from tests.image import imagekit as k


def archive(tmp_path: Path, *layers: k.Layer, cfg: dict[str, object] | None = None) -> Path:
    lays = list(layers)
    spec = k.Spec(lays, cfg if cfg is not None else k.config(lays))
    return k.docker_archive(tmp_path / "i.tar", spec)


def raw_layer(blob: bytes, tar: bytes | None = None) -> k.Layer:
    return k.Layer(tar if tar is not None else blob, blob)


def test_dotdot_member_is_refused(tmp_path: Path) -> None:
    path = archive(tmp_path, k.layer([k.file("ok"), k.file("a/../../etc/evil")]))
    with pytest.raises(ImageFormatError, match=r"member 'a/../../etc/evil' has a '\.\.' component"):
        Image.open(path)


def test_dotdot_hardlink_target_is_refused(tmp_path: Path) -> None:
    path = archive(tmp_path, k.layer([k.hardlink("x", "../../etc/shadow")]))
    with pytest.raises(ImageFormatError, match=r"member '\.\./\.\./etc/shadow'"):
        Image.open(path)


def test_absolute_member_names_stay_in_root(tmp_path: Path) -> None:
    with Image.open(archive(tmp_path, k.layer([k.file("/etc/abs", b"a")]))) as image:
        assert image.file("/etc/abs").read_bytes() == b"a"
        assert image.listdir("/") == ["etc"]


def test_hardlink_to_missing_target(tmp_path: Path) -> None:
    with pytest.raises(ImageFormatError, match=r"hardlink 'x' points to 'nope'"):
        Image.open(archive(tmp_path, k.layer([k.hardlink("x", "nope")])))


def test_missing_layer_member(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    path = tmp_path / "i.tar"
    with tarfile.open(path, "w") as tar:
        k.add_tar_member(tar, "c.json", json.dumps(k.config([lay])).encode())
        manifest = [{"Config": "c.json", "Layers": ["gone/layer.tar"]}]
        k.add_tar_member(tar, "manifest.json", json.dumps(manifest).encode())
    with pytest.raises(ImageFormatError, match=r"blob gone/layer.tar is missing from archive"):
        Image.open(path)


def test_missing_oci_blob(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    layout = k.oci_layout(tmp_path / "l", [k.Spec([lay], k.config([lay]))])
    (layout / "blobs/sha256" / lay.digest[7:]).unlink()
    with pytest.raises(ImageFormatError, match=rf"blob blobs/sha256/{lay.digest[7:]} is missing"):
        Image.open(layout)


def test_invalid_digest_cannot_leave_layout(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    layout = k.oci_layout(tmp_path / "l", [k.Spec([lay], k.config([lay]))])
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(
        ImageFormatError, match=r"invalid digest 'sha256:\.\./\.\./\.\./etc/passwd'"
    ):
        Image.open(layout)


def test_oci_blob_digest_mismatch(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", b"1")])
    layout = k.oci_layout(tmp_path / "l", [k.Spec([lay], k.config([lay]))])
    blob = layout / "blobs/sha256" / lay.digest[7:]
    data = bytearray(blob.read_bytes())
    data[512] ^= 1  # flip a content byte: same size, still a valid tar
    blob.write_bytes(bytes(data))
    with pytest.raises(ImageFormatError, match=r"diff_id sha256:[0-9a-f]+, the config says"):
        Image.open(layout)


def test_compressed_blob_digest_mismatch(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", b"1")], "gzip")
    layout = k.oci_layout(tmp_path / "l", [k.Spec([lay], k.config([lay]))])
    other = gzip.compress(lay.tar, mtime=12345)  # same size, other bytes
    assert len(other) == len(lay.blob)
    (layout / "blobs/sha256" / lay.digest[7:]).write_bytes(other)
    with pytest.raises(
        ImageFormatError,
        match=rf"blob blobs/sha256/{lay.digest[7:]} has digest sha256:\w+, expected {lay.digest}",
    ):
        Image.open(layout)


def test_config_and_manifest_digest_mismatch(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    spec = k.Spec([lay], k.config([lay]))
    layout = k.oci_layout(tmp_path / "l", [spec])
    cfg = layout / "blobs/sha256" / k.sha(spec.config_bytes)[7:]
    cfg.write_bytes(cfg.read_bytes().replace(b"amd64", b"arm64"))
    with pytest.raises(ImageFormatError, match=r"blob sha256:[0-9a-f]+ does not match its digest"):
        Image.open(layout)


def test_diff_id_mismatch_in_docker_archive(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    cfg = k.config([lay])
    cfg["rootfs"]["diff_ids"] = ["sha256:" + "1" * 64]  # type: ignore[index]
    with pytest.raises(
        ImageFormatError, match=r"has diff_id sha256:\w+, the config says sha256:1111"
    ):
        Image.open(archive(tmp_path, lay, cfg=cfg))


def test_layer_count_mismatch(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    with pytest.raises(ImageFormatError, match="lists 1 layers but the config has 2 diff_ids"):
        Image.open(archive(tmp_path, lay, cfg=k.config([lay, lay])))


def test_short_tar(tmp_path: Path) -> None:
    tar = k.tar_bytes([k.file("big", b"x" * 5000)])[:2048]
    with pytest.raises(
        ImageFormatError, match=r"layer .*layer.tar is truncated: tar data ends early"
    ):
        Image.open(archive(tmp_path, raw_layer(tar)))


def test_short_header(tmp_path: Path) -> None:
    tar = k.tar_bytes([k.file("a", b"x")])[: 1024 + 100]
    with pytest.raises(ImageFormatError, match="truncated: short tar header"):
        Image.open(archive(tmp_path, raw_layer(tar)))


def test_corrupt_tar_header(tmp_path: Path) -> None:
    tar = bytearray(k.tar_bytes([k.file("victim", b"x")]))
    tar[5] ^= 0x20
    with pytest.raises(
        ImageFormatError, match=r"corrupt tar header \(checksum\) at member 'victiM'"
    ):
        Image.open(archive(tmp_path, raw_layer(bytes(tar))))


def test_truncated_gzip(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", os.urandom(20000))], "gzip")
    bad = raw_layer(lay.blob[:-100], lay.tar)
    with pytest.raises(ImageFormatError, match=r"layer .* is truncated: gzip stream ends early"):
        Image.open(archive(tmp_path, bad))


def test_gzip_crc_error(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", b"hello" * 100)], "gzip")
    blob = bytearray(lay.blob)
    blob[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(ImageFormatError, match=r"layer .* is corrupt: gzip"):
        Image.open(archive(tmp_path, raw_layer(bytes(blob), lay.tar)))


def test_truncated_zstd(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", os.urandom(20000))], "zstd")
    with pytest.raises(ImageFormatError, match="truncated: zstd stream ends early"):
        Image.open(archive(tmp_path, raw_layer(lay.blob[:-50], lay.tar)))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_decompression_bomb(tmp_path: Path, compression: str) -> None:
    tar = k.tar_bytes([k.file("zeros", bytes(8 << 20))])
    blob = k.compress(tar, compression)
    path = archive(tmp_path, raw_layer(blob, tar))
    with pytest.raises(ImageFormatError, match="refused as a decompression bomb") as info:
        Image.open(path, max_expansion=100, expansion_floor=1 << 20)
    assert "max_expansion" in str(info.value)
    with Image.open(path) as image:  # the defaults allow it
        assert image.file("zeros").size == 8 << 20


def test_zstd_bomb_does_not_inflate_at_once(tmp_path: Path) -> None:
    tar = k.tar_bytes([k.file("zeros", bytes(64 << 20))])
    blob = zstandard.ZstdCompressor(level=19).compress(tar)
    path = archive(tmp_path, raw_layer(blob, tar))
    with pytest.raises(ImageFormatError, match="decompression bomb"):
        Image.open(path, expansion_floor=1 << 20)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        k.add_tar_member(tar, "hello.txt", b"hi")
    with pytest.raises(ImageFormatError, match=r"neither index\.json nor manifest\.json"):
        Image.open(path)
    with pytest.raises(ImageFormatError, match="does not exist"):
        Image.open(tmp_path / "nope.tar")


def test_compressed_outer_archive(tmp_path: Path) -> None:
    path = archive(tmp_path, k.layer([k.file("a")]))
    gz = tmp_path / "i.tar.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(ImageFormatError, match="is compressed") as info:
        Image.open(gz)
    assert "decompress it first" in str(info.value)


def test_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        k.add_tar_member(tar, "manifest.json", b"{not json")
    with pytest.raises(ImageFormatError, match=r"manifest\.json is not valid JSON"):
        Image.open(path)


def test_unsupported_member_type(tmp_path: Path) -> None:
    entry = k.file("sparse", b"")
    entry.info.type = b"S"
    with pytest.raises(ImageFormatError, match="member 'sparse' has unsupported tar type 'S'"):
        Image.open(archive(tmp_path, k.layer([entry], fmt=tarfile.GNU_FORMAT)))


def test_opening_writes_nothing(tmp_path: Path) -> None:
    path = archive(tmp_path, k.layer([k.file("a", b"1"), k.symlink("evil", "/../../tmp")], "gzip"))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with Image.open(path) as image:
        list(image.walk())
        image.file("/evil/x")
        image.file("a").read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_malformed_manifest_entries(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        k.add_tar_member(tar, "manifest.json", b"[1]")
    with pytest.raises(ImageFormatError, match="malformed image metadata"):
        Image.open(path)


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ImageFormatError, match="neither a directory nor a regular file"):
        Image.open(fifo)


def test_layer_size_differs_from_manifest(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", b"1")])
    layout = k.oci_layout(tmp_path / "l", [k.Spec([lay], k.config([lay]))])
    with (layout / "blobs/sha256" / lay.digest[7:]).open("ab") as blob:
        blob.write(bytes(512))
    with pytest.raises(
        ImageFormatError, match=rf"blob {lay.digest} has size {len(lay.blob) + 512}"
    ):
        Image.open(layout)


def test_truncated_outer_archive(tmp_path: Path) -> None:
    path = archive(tmp_path, k.layer([k.file("a", os.urandom(4096))]))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFormatError, match=r"archive .*i\.tar is truncated"):
        Image.open(path)
