"""Snapshot diffs on a real directory: each kind of change a RUN step can make."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_imagebuild.builder.fs import Changes, IgnoreList, Snapshotter


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    for sub in ("etc", "usr/bin", "var/run", "proc/1", "dev", "d/sub"):
        (path / sub).mkdir(parents=True)
    (path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (path / "usr/bin/tool").write_bytes(b"#!/bin/sh\n")
    (path / "d/a").write_text("a")
    (path / "d/sub/b").write_text("b")
    (path / "proc/1/status").write_text("x")
    os.symlink("/etc/passwd", path / "link")
    return path


@pytest.fixture
def snap(root: Path) -> Snapshotter:
    snapshotter = Snapshotter(root)
    snapshotter.reset()
    return snapshotter


def test_nothing_changed_is_empty(snap: Snapshotter) -> None:
    assert snap.snapshot() == Changes()
    assert not snap.snapshot()


def test_added_file_and_its_directory(root: Path, snap: Snapshotter) -> None:
    (root / "etc/new.conf").write_text("x")
    changes = snap.snapshot()
    assert changes.changed == ["etc", "etc/new.conf"]
    assert changes.deleted == changes.opaque == []


def test_same_size_same_mtime_rewrite_is_seen_through_ctime(root: Path, snap: Snapshotter) -> None:
    target = root / "etc/passwd"
    before = target.stat()
    target.write_text("ROOT:x:0:0::/root:/bin/sh\n")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert snap.snapshot().changed == ["etc/passwd"]


@pytest.mark.parametrize(
    "change",
    [
        lambda p: os.chmod(p, 0o4755),
        lambda p: os.chown(p, 1000, 1000),
        lambda p: os.setxattr(p, "user.note", b"1"),
    ],
    ids=["chmod", "chown", "xattr"],
)
def test_metadata_only_changes(root: Path, snap: Snapshotter, change) -> None:  # type: ignore[no-untyped-def]
    change(root / "usr/bin/tool")
    assert snap.snapshot().changed == ["usr/bin/tool"]


def test_deletions_whiteout_only_the_topmost_path(root: Path, snap: Snapshotter) -> None:
    (root / "etc/passwd").unlink()
    shutil.rmtree(root / "d")
    changes = snap.snapshot()
    assert changes.deleted == ["d", "etc/passwd"]
    assert changes.changed == ["etc"]


def test_directory_replaced_by_file(root: Path, snap: Snapshotter) -> None:
    shutil.rmtree(root / "d")
    (root / "d").write_text("now a file")
    changes = snap.snapshot()
    assert changes.changed == ["d"]
    assert changes.deleted == []  # the file hides everything below it


def test_directory_deleted_and_made_again_is_opaque(root: Path, snap: Snapshotter) -> None:
    fresh = root / "d.new"
    fresh.mkdir()
    (fresh / "c").write_text("c")
    shutil.rmtree(root / "d")
    fresh.rename(root / "d")
    changes = snap.snapshot()
    assert changes.opaque == ["d"]
    assert changes.deleted == []
    assert changes.changed == ["d", "d/c"]


def test_hardlink_creation_marks_both_names(root: Path, snap: Snapshotter) -> None:
    os.link(root / "d/a", root / "etc/a-link")
    assert snap.snapshot().changed == ["d/a", "etc", "etc/a-link"]


def test_symlink_retarget(root: Path, snap: Snapshotter) -> None:
    (root / "link").unlink()
    os.symlink("/usr/bin/tool", root / "link")
    assert snap.snapshot().changed == ["link"]


def test_ignored_paths(root: Path) -> None:
    snapshotter = Snapshotter(root, IgnoreList.build(["/var/run", "/etc/*.conf"]))
    snapshotter.reset()
    assert "proc" not in snapshotter.index
    assert "etc/passwd" in snapshotter.index
    (root / "proc/2").mkdir()
    (root / "dev/null").write_text("")
    (root / "var/run/pid").write_text("1")
    (root / "etc/resolv.conf").write_text("nameserver 10.0.0.1")
    assert snapshotter.snapshot().changed == ["etc"]


def test_refresh_after_known_writes(root: Path, snap: Snapshotter) -> None:
    (root / "opt/app").mkdir(parents=True)
    (root / "opt/app/main").write_text("x")
    snap.refresh(["/opt/app"])
    assert snap.snapshot() == Changes()
