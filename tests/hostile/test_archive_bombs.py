"""ADD of a local archive obeys the read side's limits: decompression ratio and size, member
count, name length. Bombs are made here with the real compressors; a build that meets one
fails with the project's error naming the archive and the limit, with a hint."""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.steps.archive import extract_archive
from pytest_imagebuild.builder.steps.copyfs import Copier
from pytest_imagebuild.errors import BuildError
from pytest_imagebuild.limits import ArchiveLimits
from tests.hostile.harness import assert_located_error, attempt, tree_state

ZEROS = bytes(1 << 20)


def zero_tar(size: int) -> Iterator[bytes]:
    """A tar holding one file of ``size`` zero bytes, in pieces."""
    info = tarfile.TarInfo("zeros")
    info.size = size
    yield info.tobuf(tarfile.GNU_FORMAT)
    left = size
    while left:
        piece = ZEROS[: min(left, len(ZEROS))]
        left -= len(piece)
        yield piece
    yield bytes(-size % 512) + bytes(1024)


def compressor(kind: str) -> Callable[[Iterator[bytes]], Iterator[bytes]]:
    def run(chunks: Iterator[bytes]) -> Iterator[bytes]:
        comp = {
            "gzip": lambda: zlib.compressobj(9, zlib.DEFLATED, 31),
            "bzip2": lambda: bz2.BZ2Compressor(9),
            "xz": lambda: lzma.LZMACompressor(preset=1),
        }[kind]()
        for chunk in chunks:
            yield comp.compress(chunk)
        yield comp.flush()

    return run


def write_bomb(path: Path, kind: str, size: int) -> Path:
    with open(path, "wb") as out:
        for piece in compressor(kind)(zero_tar(size)):
            out.write(piece)
    return path


def fast_gzip_bomb(path: Path, size: int) -> Path:
    """A gzip tar of one ``size``-byte zero file (a multiple of 64 MiB), made from
    concatenated gzip members (valid gzip, as ``cat a.gz b.gz`` is) so that making it is
    cheap."""
    piece = 64 << 20
    zeros = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = zeros.compress(bytes(piece)) + zeros.flush()
    _head, *_, tail = list(zero_tar(0))
    info = tarfile.TarInfo("zeros")
    info.size = size
    with open(path, "wb") as out:
        out.write(gzip.compress(info.tobuf(tarfile.GNU_FORMAT)))
        for _ in range(size // piece):
            out.write(member)
        out.write(gzip.compress(tail))
    return path


def stage_root(tmp_path: Path) -> Copier:
    root = tmp_path / "root"
    root.mkdir(parents=True)
    return Copier(root)


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_a_bomb_stops_at_the_limit(tmp_path: Path, kind: str) -> None:
    bomb = write_bomb(tmp_path / f"bomb.{kind}", kind, 64 << 20)
    assert bomb.stat().st_size * 100 < 64 << 20  # a real bomb: far past the ratio
    copier = stage_root(tmp_path)
    limits = ArchiveLimits(ratio=100, floor=8 << 20)
    with pytest.raises(BuildError) as caught:
        extract_archive(copier, str(bomb), "", "bomb." + kind, limits)
    assert "ADD: archive bomb." + kind in caught.value.message
    assert "decompression bomb" in caught.value.message
    assert caught.value.hint
    written = sum(size for _, size, _ in tree_state(copier.root).values())
    assert written < 16 << 20  # it stopped near the floor, not at 64 MiB


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_an_archive_below_the_limits_unpacks(tmp_path: Path, kind: str) -> None:
    archive = write_bomb(tmp_path / f"fine.{kind}", kind, 4 << 20)
    copier = stage_root(tmp_path)
    extract_archive(copier, str(archive), "", "fine", ArchiveLimits(ratio=100, floor=8 << 20))
    assert (copier.root / "zeros").stat().st_size == 4 << 20


def many_members(path: Path, count: int, name_length: int = 8) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for i in range(count):
            info = tarfile.TarInfo(f"m{i:0{name_length}d}")
            tar.addfile(info)
    return path


def test_member_count_and_name_length_limits(tmp_path: Path) -> None:
    copier = stage_root(tmp_path)
    archive = many_members(tmp_path / "many.tar.gz", 50)
    with pytest.raises(BuildError, match="more than 40 members"):
        extract_archive(copier, str(archive), "", "many.tar.gz", ArchiveLimits(members=40))
    long_name = many_members(tmp_path / "long.tar.gz", 1, name_length=300)
    with pytest.raises(BuildError, match="member name of 301 bytes"):
        extract_archive(copier, str(long_name), "", "long.tar.gz", ArchiveLimits(path=256))


def test_truncated_and_corrupt_archives_are_errors(tmp_path: Path) -> None:
    good = write_bomb(tmp_path / "good.xz", "xz", 1 << 20).read_bytes()
    for name, data in (("cut.xz", good[: len(good) // 2]), ("bad.xz", good[:40] + b"x" * 40)):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BuildError, match=f"ADD: cannot unpack {name}"):
            extract_archive(
                stage_root(tmp_path / name.replace(".", "-")), str(tmp_path / name), "", name
            )


def test_a_build_adding_a_bomb_fails_at_the_default_limits(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    fast_gzip_bomb(context / "bomb.tar.gz", (1 << 30) + (64 << 20))
    outcome = attempt(context, "FROM scratch\nADD bomb.tar.gz /data/\n", tmp_path / "work", "root")
    assert_located_error(outcome, "bomb.tar.gz", "decompression bomb")
    assert outcome.location is not None
    assert outcome.location.endswith(":2")
    assert outcome.hint
