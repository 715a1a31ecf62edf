"""The merged view: whiteouts, opaque dirs, replacements, links, implied dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.image import imagekit as k


def open_layers(tmp_path: Path, *layers: list[k.Entry], compression: str = "none") -> Image:
    lays = [k.layer(entries, compression) for entries in layers]
    return Image.open(k.docker_archive(tmp_path / "i.tar", k.Spec(lays, k.config(lays))))


def test_whiteout_removes_file_and_dir_tree(tmp_path: Path) -> None:
    image = open_layers(
        tmp_path,
        [k.file("a/keep"), k.file("a/gone"), k.file("tree/x/y", b"y"), k.directory("tree/z")],
        [k.whiteout("a/gone"), k.whiteout("tree")],
    )
    with image:
        assert image.listdir("/") == ["a"]
        assert image.listdir("/a") == ["keep"]
        assert "a/gone" not in image
        assert "/tree/x/y" not in image
        assert image.glob("**", all_layers=True) == [
            "/a", "/a/gone", "/a/keep", "/tree", "/tree/x", "/tree/x/y", "/tree/z"
        ]  # fmt: skip
        assert [f.path for f in image.layer_files(1)] == []


def test_whiteout_then_recreate_in_same_layer(tmp_path: Path) -> None:
    image = open_layers(
        tmp_path,
        [k.file("d/old", b"1")],
        [k.whiteout("d"), k.directory("d", mode=0o700), k.file("d/new", b"2")],
    )
    with image:
        assert image.listdir("d") == ["new"]
        assert image.file("d").mode == 0o700


def test_opaque_dir_hides_lower_children_only(tmp_path: Path) -> None:
    image = open_layers(
        tmp_path,
        [k.file("etc/a"), k.file("etc/sub/b"), k.file("other")],
        [k.directory("etc"), k.opaque("etc"), k.file("etc/c", b"c")],
    )
    with image:
        assert image.listdir("/etc") == ["c"]
        assert "/other" in image
        assert image.file("/etc/c").layer == image.layers[1]
        assert image.file("/etc").layer == image.layers[1]
        assert [f.path for f in image.layer_files(1)] == ["/etc", "/etc/c"]


def test_dir_replaced_by_file_and_back(tmp_path: Path) -> None:
    image = open_layers(
        tmp_path,
        [k.file("x/child", b"c"), k.file("y", b"file")],
        [k.file("x", b"now a file"), k.directory("y"), k.file("y/inner", b"i")],
    )
    with image:
        assert image.file("/x").is_file
        assert image.file("/x").read_bytes() == b"now a file"
        assert not image.file("/x/child").exists
        assert image.file("/y").is_dir
        assert image.listdir("/y") == ["inner"]


def test_later_dir_entry_keeps_children(tmp_path: Path) -> None:
    image = open_layers(
        tmp_path, [k.directory("d", mode=0o755), k.file("d/f")], [k.directory("d", mode=0o750)]
    )
    with image:
        assert image.file("d").mode == 0o750
        assert image.listdir("d") == ["f"]
        assert image.file("d/f").layer == image.layers[0]


def test_implied_parent_dirs(tmp_path: Path) -> None:
    with open_layers(tmp_path, [k.file("deep/er/file", b"x", uid=5)]) as image:
        implied = image.file("/deep/er")
        assert implied.is_dir
        assert implied.mode == 0o755
        assert (implied.uid, implied.gid) == (0, 0)
        assert implied.layer is None
        assert [f.path for f in image.walk()] == ["/deep", "/deep/er", "/deep/er/file"]


def test_walk_is_sorted_by_path(tmp_path: Path) -> None:
    entries = [k.file("a/b"), k.file("a-c"), k.file("a.d"), k.file("B")]
    with open_layers(tmp_path, entries) as image:
        paths = [f.path for f in image.walk()]
        assert paths == sorted(paths)
        assert paths == ["/B", "/a", "/a-c", "/a.d", "/a/b"]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_hardlinks(tmp_path: Path, compression: str) -> None:
    image = open_layers(
        tmp_path,
        [
            k.file("bin/busybox", b"BB" * 100, mode=0o4755, uid=0),
            k.hardlink("bin/sh", "bin/busybox"),
        ],
        [k.hardlink("usr/bin/ls", "bin/busybox")],
        [k.whiteout("bin/busybox")],
        compression=compression,
    )
    with image:
        sh = image.file("/bin/sh")
        assert sh.type == "file"
        assert sh.is_file
        assert not sh.is_symlink
        assert sh.linked_to is None
        assert sh.size == 200
        assert sh.sha256 == image.file("/usr/bin/ls").sha256
        assert sh.mode == 0o4755
        assert sh.read_bytes() == b"BB" * 100
        assert image.file("/usr/bin/ls").read_bytes() == b"BB" * 100
        assert image.file("/usr/bin/ls").layer == image.layers[1]
        assert not image.file("/bin/busybox").exists
        layer0 = {f.path: f for f in image.layer_files(0)}
        assert layer0["/bin/sh"].size == 200
        assert layer0["/bin/sh"].read_bytes() == b"BB" * 100


SYMLINKS = [
    k.directory("usr/lib"),
    k.file("usr/lib/libc.so", b"libc"),
    k.symlink("lib", "usr/lib"),
    k.symlink("lib64", "/usr/lib"),
    k.symlink("etc/os-release", "../usr/lib/os-release"),
    k.file("usr/lib/os-release", b"ID=test\n"),
    k.symlink("dangling", "/nowhere"),
    k.symlink("escape", "../../../../etc/hostname"),
    k.file("etc/hostname", b"inside\n"),
    k.symlink("loop1", "loop2"),
    k.symlink("loop2", "loop1"),
    k.symlink("usr/lib/self", "."),
]


def test_symlinks(tmp_path: Path) -> None:
    with open_layers(tmp_path, SYMLINKS) as image:
        lib = image.file("/lib")
        assert lib.is_symlink
        assert lib.linked_to == "usr/lib"
        assert image.file("/lib/libc.so").read_bytes() == b"libc"
        assert image.file("/lib/libc.so").path == "/lib/libc.so"
        assert image.file("/lib64/libc.so").is_file
        assert image.file("/lib/self/self/libc.so").is_file
        assert image.file("/etc/os-release").read_text() == "ID=test\n"
        assert image.file("/etc/os-release").is_symlink
        assert image.file("/etc/os-release", follow_symlinks=True).path == "/usr/lib/os-release"
        assert image.listdir("/lib") == ["libc.so", "os-release", "self"]
        dangling = image.file("/dangling")
        assert dangling.exists
        assert dangling.linked_to == "/nowhere"
        with pytest.raises(OSError, match="symlink"):
            dangling.read_bytes()
        assert not image.file("/dangling", follow_symlinks=True).exists
        assert image.file("/escape").read_text() == "inside\n"
        assert not image.file("/loop1/x").exists
        assert not image.file("/loop1", follow_symlinks=True).exists
        assert image.file("/usr/../lib/libc.so").is_file
        assert image.file("/../../lib/libc.so").is_file
        assert "/lib/libc.so" in image
        assert image.glob("lib*") == ["/lib", "/lib64"]


def test_missing_paths(tmp_path: Path) -> None:
    with open_layers(tmp_path, [k.file("etc/passwd", b"root:x:0:0::/:/bin/sh\n")]) as image:
        missing = image.file("etc/nope")
        assert not missing.exists
        assert missing.type == "missing"
        assert missing.path == "/etc/nope"
        assert not missing.contains("x")
        assert not image.file("etc/passwd/below").exists
        with pytest.raises(FileNotFoundError):
            missing.read_bytes()
        with pytest.raises(FileNotFoundError):
            image.listdir("/nope")
        with pytest.raises(NotADirectoryError):
            image.listdir("/etc/passwd")
        with pytest.raises(IsADirectoryError):
            image.file("/etc").read_bytes()
        with pytest.raises(IndexError):
            image.layer_files(3)
        assert 42 not in image  # type: ignore[operator]


def test_root_entry_and_dot_slash_names(tmp_path: Path) -> None:
    entries = [k.directory("./", mode=0o755), k.directory("./tmp", mode=0o1777), k.file("./tmp/x")]
    with open_layers(tmp_path, entries) as image:
        assert image.listdir("/") == ["tmp"]
        assert image.file("/tmp").mode == 0o1777
        assert str(image.file("/tmp").mode) == "drwxrwxrwt"
        assert [f.path for f in image.layer_files(0)] == ["/tmp", "/tmp/x"]
