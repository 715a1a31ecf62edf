"""Layers written from snapshots and from entry lists, read back with Python's tarfile."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.fs import (
    Entry,
    LayerBlob,
    Snapshotter,
    resolve_in_root,
    unpack_layer,
    write_layer,
    write_layer_from_entries,
)
from tests.builder.test_fs_common import CAP, CAP_NET_BIND, tree_listing


def members(blob: LayerBlob) -> list[tarfile.TarInfo]:
    return [item for item, _ in contents(blob)]


def contents(blob: LayerBlob) -> list[tuple[tarfile.TarInfo, bytes]]:
    data = blob.path.read_bytes()
    if blob.compression == "gzip":
        data = gzip.decompress(data)
    elif blob.compression == "zstd":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    assert "sha256:" + hashlib.sha256(data).hexdigest() == blob.diff_id
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        out = []
        for item in tar.getmembers():
            fh = tar.extractfile(item) if item.isfile() else None
            out.append((item, fh.read() if fh else b""))
        return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    (path / "usr/bin").mkdir(parents=True)
    (path / "etc").mkdir()
    (path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (path / "old").mkdir()
    (path / "old/x").write_text("x")
    (path / "gone").write_text("bye")
    return path


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store")


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_snapshot_layer_contents(root: Path, store: BlobStore, compression: str) -> None:
    snap = Snapshotter(root)
    snap.reset()
    tool = root / "usr/bin/tool"
    tool.write_bytes(b"\x7fELF" + b"\0" * 600)
    os.chown(tool, 1000, 1000)
    os.chmod(tool, 0o4755)
    os.setxattr(tool, CAP, CAP_NET_BIND)
    os.setxattr(tool, "user.dropped", b"1")
    os.link(tool, root / "usr/bin/tool-again")
    os.symlink("../etc/passwd", root / "usr/bin/pw")
    (root / "gone").unlink()
    long = root / ("deep/" + "n" * 120)
    long.parent.mkdir(parents=True)
    long.write_text("long")
    blob = write_layer(root, snap.snapshot(), store, compression=compression)
    assert blob.digest == (blob.diff_id if compression == "none" else blob.digest)
    assert blob.size == blob.path.stat().st_size
    assert "sha256:" + hashlib.sha256(blob.path.read_bytes()).hexdigest() == blob.digest
    items = {m.name: m for m in members(blob)}
    assert list(items) == [
        "deep",
        "deep/" + "n" * 120,
        ".wh.gone",
        "usr",
        "usr/bin",
        "usr/bin/pw",
        "usr/bin/tool",
        "usr/bin/tool-again",
    ]
    first = items["usr/bin/tool"]
    assert (first.mode, first.uid, first.gid, first.uname, first.gname) == (
        0o4755,
        1000,
        1000,
        "",
        "",
    )
    assert first.pax_headers["SCHILY.xattr." + CAP].encode("utf-8", "surrogateescape") == (
        CAP_NET_BIND
    )
    assert "SCHILY.xattr.user.dropped" not in first.pax_headers
    assert items["usr/bin/tool-again"].islnk()
    assert items["usr/bin/tool-again"].linkname == "usr/bin/tool"
    assert items["usr/bin/pw"].linkname == "../etc/passwd"
    assert dict((m.name, d) for m, d in contents(blob))["deep/" + "n" * 120] == b"long"
    assert items[".wh.gone"].size == 0


def test_opaque_and_whiteout_positions_match_docker(root: Path, store: BlobStore) -> None:
    snap = Snapshotter(root)
    snap.reset()
    fresh = root / "old.new"
    fresh.mkdir()
    (fresh / "y").write_text("y")
    shutil.rmtree(root / "old")
    fresh.rename(root / "old")
    (root / "etc/passwd").unlink()
    (root / "etc/zz").write_text("z")
    names = [m.name for m in members(write_layer(root, snap.snapshot(), store))]
    assert names == ["etc", "etc/.wh.passwd", "etc/zz", "old", "old/.wh..wh..opq", "old/y"]


def test_roundtrip_unpack_then_snapshot_is_empty(
    root: Path, store: BlobStore, tmp_path: Path
) -> None:
    snap = Snapshotter(root)
    snap.index = {}
    blob = write_layer(root, snap.snapshot(), store, compression="gzip")
    target = tmp_path / "target"
    target.mkdir()
    unpack_layer(blob.path, target)
    assert tree_listing(target, mtimes=True) == tree_listing(root, mtimes=True)
    again = Snapshotter(target)
    again.reset()
    assert not again.snapshot()


def test_layer_from_entries(root: Path, store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "context"
    src.mkdir()
    (src / "app.py").write_text("print('hi')\n")
    (src / "run").write_text("#!/bin/sh\n")
    os.symlink("app.py", src / "main.py")
    (root / "opt/app").mkdir(parents=True)
    os.chmod(root / "opt", 0o711)
    entries = [
        Entry.from_host(src / "app.py", "/opt/app/app.py", uid=1000, gid=1000),
        Entry.from_host(src / "run", "/opt/app/bin/run", mode=0o755, mtime=0),
        Entry.from_host(src / "main.py", "opt/app/main.py"),
    ]
    blob = write_layer_from_entries(entries, store, parents_from=root, compression="zstd")
    items = {m.name: m for m in members(blob)}
    assert list(items) == [
        "opt",
        "opt/app",
        "opt/app/app.py",
        "opt/app/bin",
        "opt/app/bin/run",
        "opt/app/main.py",
    ]
    assert items["opt"].mode == 0o711  # taken from the stage root
    assert (items["opt/app/bin"].mode, items["opt/app/bin"].uid) == (0o755, 0)
    assert (items["opt/app/app.py"].uid, items["opt/app/app.py"].gid) == (1000, 1000)
    assert (items["opt/app/bin/run"].mode, items["opt/app/bin/run"].mtime) == (0o755, 0)
    assert items["opt/app/main.py"].issym()
    assert dict((m.name, d) for m, d in contents(blob))["opt/app/app.py"] == b"print('hi')\n"


def test_entries_through_a_symlinked_directory(root: Path, store: BlobStore) -> None:
    (root / "run").mkdir()
    (root / "var").mkdir()
    os.symlink("../run", root / "var/run")
    source = root / "etc/passwd"
    with pytest.raises(ValueError, match="resolve_in_root"):
        write_layer_from_entries(
            [Entry.from_host(source, "/var/run/app/pid")], store, parents_from=root
        )
    dest = resolve_in_root(os.fspath(root), "/var/run/app/pid")
    assert dest == "run/app/pid"
    blob = write_layer_from_entries([Entry.from_host(source, dest)], store, parents_from=root)
    assert [m.name for m in members(blob)] == ["run", "run/app", "run/app/pid"]


def test_identical_layers_share_a_blob(root: Path, store: BlobStore) -> None:
    entries = [Entry.from_host(root / "etc/passwd", "etc/passwd", mtime=0)]
    one = write_layer_from_entries(entries, store)
    two = write_layer_from_entries(entries, store)
    assert one == two
    assert len(list((store.root / "blobs" / "sha256").iterdir())) == 1
