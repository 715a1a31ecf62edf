"""The shared tar codec against archives written by Python's tarfile and GNU tar."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.builder.fs.tarreader import TarReader
from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.tarindex import iter_members
from pytest_imagebuild.image.tarreader import ChunkReader
from pytest_imagebuild.tarcodec import TarFormatError, parse_number, parse_pax, xattrs_from_pax

LONG = "d/" + "n" * 150


def _archive(fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        info = tarfile.TarInfo(LONG)
        info.size = 3
        if fmt == tarfile.PAX_FORMAT:
            info.pax_headers = {"SCHILY.xattr.user.k": "v"}
        tar.addfile(info, io.BytesIO(b"abc"))
    return out.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_both_sides_read_the_same_members(fmt: int) -> None:
    data = _archive(fmt)
    read = iter_members(ChunkReader(iter([data]), "t.tar"), layer=False)
    builder = TarReader(io.BytesIO(data), "t.tar").next()
    assert builder is not None
    assert [m.name for m in read] == [LONG] == [builder.name]
    assert read[0].size == builder.size == 3
    want = {"user.k": b"v"} if fmt == tarfile.PAX_FORMAT else {}
    assert (read[0].xattrs or {}) == builder.xattrs == want


def test_gnu_tar_posix_xattrs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / LONG.split("/")[1]).write_bytes(b"x")
    tar = tmp_path / "a.tar"
    subprocess.run(["tar", "--format=posix", "-C", src, "-cf", tar, "."], check=True)
    data = tar.read_bytes()
    read = iter_members(ChunkReader(iter([data]), "a.tar"), layer=True)
    reader = TarReader(io.BytesIO(data), "a.tar")
    names = []
    while (member := reader.next()) is not None:
        names.append(member.name.strip("./").rstrip("/"))
    assert [m.name for m in read] == names


def test_base256_and_libarchive_xattrs() -> None:
    assert parse_number(b"\x80" + (1234).to_bytes(11, "big")) == 1234
    assert parse_number(b"\xff" * 12) == -1
    assert xattrs_from_pax({"LIBARCHIVE.xattr.user.a%3Db": b"aGk"}) == {"user.a=b": b"hi"}


@pytest.mark.parametrize("bad", [b"99 path=x\n", b"x path=y\n", b"3 a\n", b"0 =\n"])
def test_bad_pax_length_is_one_error(bad: bytes) -> None:
    with pytest.raises(TarFormatError):
        parse_pax(bad)


def test_corrupt_header_names_the_offset() -> None:
    data = bytearray(_archive(tarfile.GNU_FORMAT))
    data[1030] ^= 0xFF  # inside the member header after the GNU long name
    with pytest.raises(ImageFormatError, match="offset"):
        iter_members(ChunkReader(iter([bytes(data)]), "t.tar"), layer=False)
    reader = TarReader(io.BytesIO(bytes(data)), "t.tar")
    with pytest.raises(ImageFormatError, match="offset 1024"):
        reader.next()
