"""The index cache serves an index only for bytes that were verified, and runs no code.

A blob changed in place (same path, same size, even with its mtime put back) must be
hashed again and refused; an image that failed verification leaves no index behind;
a planted or damaged cache file is ignored and rewritten.
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import pytest

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image import Image
from pytest_imagebuild.image.cache import MAGIC, Place, load_index, place_of
from tests.image import imagekit as k

CHANGED = "has diff_id|has digest"
SECRET = b"the original bytes " * 200


def spec(compression: str = "none") -> k.Spec:
    base = k.layer(
        [
            k.file("etc/data", SECRET, uid=70000, xattrs={"user.tag": b"\x00\xff"}),
            k.file("caf\udce9", b"latin-1 name"),
            k.hardlink("again", "etc/data"),
        ],
        compression,
    )
    top = k.layer([k.symlink("link", "/etc/data"), k.file("top", b"top content")], compression)
    return k.Spec([base, top], k.config([base, top]))


def settle(*paths: Path) -> None:
    """Wait until the files' ctime is old enough to be recorded as a verified place."""
    newest = max(os.stat(p).st_ctime_ns for p in paths)
    time.sleep(max(0.0, (newest + 2_100_000_000 - time.time_ns()) / 1e9))


def tamper(path: Path, needle: bytes) -> None:
    """Replace bytes inside ``path`` in place, same size, and put its mtime back."""
    before = os.stat(path)
    data = path.read_bytes()
    at = data.index(needle)
    with open(path, "r+b") as out:
        out.seek(at)
        out.write(needle.upper())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size


def place(path: Path) -> Place:
    fd = os.open(path, os.O_RDONLY)
    try:
        return place_of(fd, 0)
    finally:
        os.close(fd)


def blob_path(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def test_tampered_layout_blob_is_hashed_again_and_refused(tmp_path: Path) -> None:
    s = spec()
    layout = k.oci_layout(tmp_path / "layout", [s])
    cache = tmp_path / "cache"
    base = blob_path(layout, s.layers[0].digest)
    settle(base)
    with Image.open(layout, index_cache=cache) as image:
        assert image.file("/etc/data").read_bytes() == SECRET
    stored = load_index(cache, s.layers[0].digest, len(s.layers[0].blob))
    assert stored is not None
    assert place(base) in stored.places
    tamper(base, b"original")
    with pytest.raises(ImageFormatError, match=CHANGED):
        Image.open(layout, index_cache=cache)


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_tampered_member_of_docker_archive_is_refused(tmp_path: Path, compression: str) -> None:
    s = spec(compression)
    archive = k.docker_archive(tmp_path / "image.tar", s, style="blobs")
    cache = tmp_path / "cache"
    settle(archive)
    with Image.open(archive, index_cache=cache) as image:
        assert image.file("/top").read_bytes() == b"top content"
    with Image.open(archive, index_cache=cache) as image:  # a trusted hit
        assert image.file("/etc/data").read_bytes() == SECRET
    raw = archive.read_bytes()
    blob = s.layers[1].blob
    start = raw.index(blob)
    flipped = bytes([blob[len(blob) // 2] ^ 1])
    with open(archive, "r+b") as out:
        out.seek(start + len(blob) // 2)
        out.write(flipped)
    with pytest.raises(ImageFormatError):
        Image.open(archive, index_cache=cache)


def test_an_image_that_fails_verification_stores_no_index(tmp_path: Path) -> None:
    s = spec()
    layout = k.oci_layout(tmp_path / "layout", [s])
    tamper(blob_path(layout, s.layers[0].digest), b"original")
    cache = tmp_path / "cache"
    with pytest.raises(ImageFormatError, match=CHANGED):
        Image.open(layout, index_cache=cache)
    assert load_index(cache, s.layers[0].digest, len(s.layers[0].blob)) is None
    with pytest.raises(ImageFormatError, match=CHANGED):
        Image.open(layout, index_cache=cache)  # and a second open is refused too


def test_a_copy_elsewhere_is_verified_then_recorded(tmp_path: Path) -> None:
    s = spec()
    layout = k.oci_layout(tmp_path / "layout", [s])
    cache = tmp_path / "cache"
    with Image.open(layout, index_cache=cache) as image:
        expected = list(image.walk())
    copy = tmp_path / "copy"
    shutil.copytree(layout, copy)
    settle(*copy.rglob("*"))
    with Image.open(copy, index_cache=cache) as image:
        assert list(image.walk()) == expected
        assert image.file("/etc/data").xattrs == {"user.tag": b"\x00\xff"}
        assert image.file("/caf\udce9").read_bytes() == b"latin-1 name"
        assert image.file("/again").uid == 70000
    stored = load_index(cache, s.layers[1].digest, len(s.layers[1].blob))
    assert stored is not None
    assert place(blob_path(copy, s.layers[1].digest)) in stored.places
    tamper(blob_path(copy, s.layers[1].digest), b"content")
    with pytest.raises(ImageFormatError, match=CHANGED):
        Image.open(copy, index_cache=cache)
    with Image.open(layout, index_cache=cache) as image:  # the original is still fine
        assert image.file("/top").read_bytes() == b"top content"


class Planted:
    """Unpickling this would create the canary file."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.canary), "w"))


def test_planted_pickle_and_damaged_files_are_ignored(tmp_path: Path) -> None:
    s = spec()
    layout = k.oci_layout(tmp_path / "layout", [s])
    cache = tmp_path / "cache"
    with Image.open(layout, index_cache=cache):
        pass
    files = sorted(cache.iterdir())
    canary = tmp_path / "canary"
    files[0].write_bytes(pickle.dumps(Planted(canary)))
    good = files[1].read_bytes()
    files[1].write_bytes(good[:-7] + bytes([good[-7] ^ 0x40]) + good[-6:])  # checksum fails
    assert load_index(cache, s.layers[1].digest, len(s.layers[1].blob)) is None
    with Image.open(layout, index_cache=cache) as image:
        assert image.file("/link").read_bytes() == SECRET
    assert not canary.exists()
    assert all(p.read_bytes().startswith(MAGIC) for p in files)
    assert files[1].read_bytes() == good


def test_file_digests_written_back_keep_the_places(tmp_path: Path) -> None:
    s = spec()
    layout = k.oci_layout(tmp_path / "layout", [s])
    cache = tmp_path / "cache"
    settle(*layout.rglob("*"))
    with Image.open(layout, index_cache=cache) as image:
        digest = image.file("/etc/data").sha256
    stored = load_index(cache, s.layers[0].digest, len(s.layers[0].blob))
    assert stored is not None
    assert stored.places
    assert {m.name: m.sha256 for m in stored.members}["etc/data"] == digest
