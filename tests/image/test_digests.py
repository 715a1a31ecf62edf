"""File digests (computed on first use, kept in the index cache) and exact header checksums."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image import Image
from pytest_imagebuild.image.content import LayerData
from tests.image import imagekit as k

BIG = os.urandom((1 << 20) * 2 + 123)  # more than one read chunk


def hexsha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(tmp_path: Path, compression: str) -> Path:
    """Two layers; the top one replaces /small and hardlinks the old one."""
    base = k.layer(
        [k.file("big", BIG), k.file("small", b"s"), k.file("empty"), k.directory("d")],
        compression,
    )
    top = k.layer([k.hardlink("d/again", "small"), k.file("small", b"new")], compression)
    spec = k.Spec([base, top], k.config([base, top]))
    return k.oci_layout(tmp_path / f"layout-{compression}", [spec])


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_digests_of_files(tmp_path: Path, compression: str) -> None:
    with Image.open(build(tmp_path, compression)) as image:
        assert image.file("/big").sha256 == hexsha(BIG)
        assert image.file("/small").sha256 == hexsha(b"new")
        assert image.file("/d/again").sha256 == hexsha(b"s")  # hardlink to the lower file
        assert image.file("/empty").sha256 == hexsha(b"")
        assert image.file("/d").sha256 is None
        assert image.file("/missing").sha256 is None
        assert [f.sha256 for f in image.layer_files(0) if f.is_file] == [
            hexsha(BIG),
            hexsha(b"s"),
            hexsha(b""),
        ]
        walked = {f.path: f.sha256 for f in image.walk() if f.is_file}
        assert walked == {
            "/big": hexsha(BIG),
            "/small": hexsha(b"new"),
            "/empty": hexsha(b""),
            "/d/again": hexsha(b"s"),
        }


def test_equal_files_compare_digests(tmp_path: Path) -> None:
    with Image.open(build(tmp_path, "none")) as one, Image.open(build(tmp_path, "gzip")) as two:
        assert one.file("/big") != two.file("/big")  # the layers differ
        assert one.file("/big") == one.file("/big")
        assert hash(one.file("/big")) == hash(one.file("/big"))
        assert "sha256=" + repr(hexsha(BIG)) in repr(one.file("/big"))


def test_digests_computed_are_kept_in_the_index_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = build(tmp_path, "none")
    cache = tmp_path / "cache"
    with Image.open(layout, index_cache=cache) as image:
        assert image.file("/big").sha256 == hexsha(BIG)
    calls: list[int] = []
    real = LayerData._hash

    def counting(self: LayerData, offset: int, size: int) -> str:
        calls.append(size)
        return real(self, offset, size)

    monkeypatch.setattr(LayerData, "_hash", counting)
    with Image.open(layout, index_cache=cache) as image:
        assert image.file("/big").sha256 == hexsha(BIG)
        assert calls == []  # from the cache
        assert image.file("/small").sha256 == hexsha(b"new")
        assert calls == [3]
    with Image.open(layout, index_cache=cache) as image:
        assert image.file("/small").sha256 == hexsha(b"new")
        assert calls == [3]


def _high_byte_layer() -> tuple[bytes, int]:
    """A symlink whose header bytes sum to more than 65535 (names of 0xff bytes)."""
    info = tarfile.TarInfo("\xff" * 99)
    info.type = tarfile.SYMTYPE
    info.linkname = "\xff" * 99
    info.uname = info.gname = "\xff" * 31
    header = info.tobuf(tarfile.USTAR_FORMAT, "latin-1", "surrogateescape")
    total = sum(header[:148]) + 256 + sum(header[156:])
    return header + bytes(1024), total


def test_header_checksum_over_65535(tmp_path: Path) -> None:
    tar, total = _high_byte_layer()
    assert total > 65535
    lay = k.Layer(tar, tar)
    path = k.docker_archive(tmp_path / "i.tar", k.Spec([lay], k.config([lay])))
    with Image.open(path) as image:
        assert image.file("/" + "\udcff" * 99).linked_to == "\udcff" * 99


@pytest.mark.parametrize("delta", [65521, -65521, 65536, 1])
def test_header_checksum_is_exact(tmp_path: Path, delta: int) -> None:
    tar, total = _high_byte_layer()
    bad = bytearray(tar)
    bad[148:156] = b"%06o\x00 " % (total + delta)
    lay = k.Layer(bytes(bad), bytes(bad))
    path = k.docker_archive(tmp_path / "i.tar", k.Spec([lay], k.config([lay])))
    with pytest.raises(ImageFormatError, match=r"corrupt tar header \(checksum\)"):
        Image.open(path)
