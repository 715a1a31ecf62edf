"""Applying hand-made layers: whiteouts, replacement rules, metadata, hostile members."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.builder.fs import unpack_layer
from pytest_imagebuild.errors import ImageFormatError
from tests.builder.test_fs_common import info, make_tar

DIR, FILE, SYM, LNK = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def apply(
    tmp_path: Path,
    root: Path,
    members: list[tuple[tarfile.TarInfo, bytes | None]],
    name: str = "layer.tar",
    *,
    fmt: int = tarfile.PAX_FORMAT,
) -> None:
    blob = tmp_path / name
    if fmt == tarfile.PAX_FORMAT:
        blob.write_bytes(make_tar(members))
    else:
        with tarfile.open(blob, "w", format=fmt) as tar:
            for item, data in members:
                import io

                item.size = len(data or b"")
                tar.addfile(item, io.BytesIO(data) if data is not None else None)
    unpack_layer(blob, root)


def test_whiteouts_and_opaque_directories(tmp_path: Path, root: Path) -> None:
    apply(
        tmp_path,
        root,
        [
            (info("d", DIR), None),
            (info("d/x"), b"x"),
            (info("d/y"), b"y"),
            (info("d/sub", DIR), None),
            (info("d/sub/z"), b"z"),
            (info("gone"), b"1"),
            (info("tree", DIR), None),
            (info("tree/leaf"), b"1"),
        ],
        "lower.tar",
    )
    apply(
        tmp_path,
        root,
        [
            (info("d", DIR), None),
            (info("d/.wh..wh..opq"), b""),
            (info("d/new"), b"n"),
            (info(".wh.gone"), b""),
            (info(".wh.tree"), b""),
            (info(".wh.never-there"), b""),
        ],
        "upper.tar",
    )
    assert sorted(os.listdir(root / "d")) == ["new"]
    assert sorted(os.listdir(root)) == ["d"]


def test_opaque_marker_before_or_after_siblings_keeps_this_layers_files(
    tmp_path: Path, root: Path
) -> None:
    apply(tmp_path, root, [(info("d", DIR), None), (info("d/old"), b"o")], "lower.tar")
    apply(
        tmp_path,
        root,
        [
            (info("d", DIR), None),
            (info("d/a"), b"a"),
            (info("d/.wh..wh..opq"), b""),
            (info("d/b"), b"b"),
        ],
        "upper.tar",
    )
    assert sorted(os.listdir(root / "d")) == ["a", "b"]


def test_replacement_rules(tmp_path: Path, root: Path) -> None:
    apply(
        tmp_path,
        root,
        [
            (info("was-dir", DIR), None),
            (info("was-dir/child"), b"c"),
            (info("was-file"), b"f"),
            (info("merge", DIR, mode=0o700), None),
            (info("merge/keep"), b"k"),
            (info("link", SYM, linkname="merge"), None),
        ],
        "lower.tar",
    )
    apply(
        tmp_path,
        root,
        [
            (info("was-dir"), b"now a file"),
            (info("was-file", DIR), None),
            (info("merge", DIR, mode=0o750), None),
            (info("merge/added"), b"a"),
            (info("link"), b"not a link any more"),
        ],
        "upper.tar",
    )
    assert (root / "was-dir").read_bytes() == b"now a file"
    assert (root / "was-file").is_dir()
    assert sorted(os.listdir(root / "merge")) == ["added", "keep"]
    assert (root / "merge").stat().st_mode & 0o7777 == 0o750
    assert not (root / "link").is_symlink()
    assert (root / "merge" / "keep").read_bytes() == b"k"


def test_metadata_owner_setuid_mtime_hardlinks(tmp_path: Path, root: Path) -> None:
    apply(
        tmp_path,
        root,
        [
            (info("d", DIR, mode=0o2750, uid=7, gid=8, mtime=1_000_000), None),
            (info("d/suid", mode=0o4755, uid=1000, gid=1000, mtime=2_000_000), b"#!"),
            (info("d/hard", LNK, linkname="d/suid"), None),
            (info("d/sym", SYM, linkname="suid", uid=5, gid=6, mtime=3_000_000), None),
            (info("d/fifo", tarfile.FIFOTYPE, mode=0o640), None),
            (info("d/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None),
        ],
    )
    st = (root / "d/suid").lstat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtime) == (0o4755, 1000, 1000, 2e6)
    assert (root / "d/hard").lstat().st_ino == st.st_ino
    link = (root / "d/sym").lstat()
    assert (os.readlink(root / "d/sym"), link.st_uid, link.st_mtime) == ("suid", 5, 3e6)
    d = (root / "d").lstat()
    assert (d.st_mode & 0o7777, d.st_uid, d.st_gid, d.st_mtime) == (0o2750, 7, 8, 1e6)
    assert os.major((root / "d/null").lstat().st_rdev) == 1


def test_long_names_pax_and_gnu(tmp_path: Path, root: Path) -> None:
    long = "/".join(["segment-" + "x" * 40] * 4)
    apply(tmp_path, root, [(info(long + "/f" * 1), b"pax"), (info("é-ü"), b"utf8")], "pax.tar")
    apply(tmp_path, root, [(info(long + "/g"), b"gnu")], "gnu.tar", fmt=tarfile.GNU_FORMAT)
    assert (root / long / "f").read_bytes() == b"pax"
    assert (root / long / "g").read_bytes() == b"gnu"
    assert (root / "é-ü").read_bytes() == b"utf8"


def test_symlinked_parents_resolve_inside_the_root(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    apply(
        tmp_path,
        root,
        [
            (info("up", SYM, linkname="../../../../.."), None),
            (info("abs", SYM, linkname=str(outside)), None),
            (info("up/escaped"), b"x"),
            (info("abs/escaped"), b"y"),
            (info("etc", DIR), None),
            (info("etc/os-release", SYM, linkname="../usr/os-release"), None),
            (info("usr", DIR), None),
            (info("usr/os-release"), b"ID=test"),
            (info("victim", SYM, linkname=str(outside / "target")), None),
            (info("victim"), b"replaces the link"),
        ],
    )
    assert list(outside.iterdir()) == []
    assert (root / "escaped").read_bytes() == b"x"
    assert (root / str(outside).lstrip("/") / "escaped").read_bytes() == b"y"
    assert (root / "etc/os-release").read_bytes() == b"ID=test"
    assert (root / "victim").read_bytes() == b"replaces the link"


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ([(info("../evil"), b"x")], "'../evil'"),
        ([(info("a/../../evil"), b"x")], "'a/../../evil'"),
        ([(info("/etc/evil"), b"x")], "'/etc/evil'"),
        ([(info("f"), b"x"), (info("h", LNK, linkname="../f"), None)], "'h'"),
        ([(info("h", LNK, linkname="/etc/passwd"), None)], "'h'"),
        ([(info("h", LNK, linkname="missing"), None)], "'h'"),
        ([(info("d/.wh.."), b"")], "'d/.wh..'"),
        ([(info("file"), b"x"), (info("file/child"), b"y")], "'file/child'"),
    ],
)
def test_hostile_members_are_refused_by_name(
    tmp_path: Path, root: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], fragment: str
) -> None:
    with pytest.raises(ImageFormatError, match=fragment.replace(".", r"\.")):
        apply(tmp_path, root, members)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.tar", "root"]


def test_truncated_and_foreign_blobs(tmp_path: Path, root: Path) -> None:
    data = make_tar([(info("big"), b"z" * 5000)])
    (tmp_path / "cut.tar").write_bytes(data[:2048])
    with pytest.raises(ImageFormatError, match="truncated"):
        unpack_layer(tmp_path / "cut.tar", root)
    (tmp_path / "x.bz2").write_bytes(b"BZh91AY&SY")
    with pytest.raises(ImageFormatError, match="bzip2"):
        unpack_layer(tmp_path / "x.bz2", root)
    (tmp_path / "junk").write_bytes(b"not a tar at all" * 64)
    with pytest.raises(ImageFormatError, match="checksum"):
        unpack_layer(tmp_path / "junk", root)
