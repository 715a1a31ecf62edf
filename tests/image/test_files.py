"""File values: modes, owners, names, xattrs, capabilities, long and unicode paths."""

from __future__ import annotations

import hashlib
import re
import struct
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.image import File, Image
from tests.image import imagekit as k

PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"
GROUP = b"root:x:0:\nstaff:x:1001:\n"
CAP_NET_BIND = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)


def open_entries(tmp_path: Path, entries: list[k.Entry], fmt: int = tarfile.PAX_FORMAT) -> Image:
    lay = k.layer(entries, fmt=fmt)
    return Image.open(k.docker_archive(tmp_path / "i.tar", k.Spec([lay], k.config([lay]))))


def test_modes_and_types(tmp_path: Path) -> None:
    entries = [
        k.file("usr/bin/su", b"su", mode=0o4755),
        k.file("usr/bin/wall", b"w", mode=0o2755),
        k.directory("tmp", mode=0o1777),
        k.special("dev/null", tarfile.CHRTYPE),
        k.special("dev/sda", tarfile.BLKTYPE, 0o660),
        k.special("run/fifo", tarfile.FIFOTYPE, 0o600),
        k.symlink("link", "usr/bin/su"),
    ]
    with open_entries(tmp_path, entries) as image:
        su = image.file("/usr/bin/su")
        assert su.mode == 0o4755
        assert repr(su.mode) == "0o4755"
        assert str(su.mode) == "-rwsr-xr-x"
        assert str(image.file("/usr/bin/wall").mode) == "-rwxr-sr-x"
        assert str(image.file("/tmp").mode) == "drwxrwxrwt"
        assert image.file("/dev/null").type == "char"
        assert str(image.file("/dev/null").mode) == "crw-rw-rw-"
        assert image.file("/dev/sda").type == "block"
        assert image.file("/run/fifo").type == "fifo"
        assert str(image.file("/run/fifo").mode) == "prw-------"
        assert image.file("/link").type == "symlink"
        assert str(image.file("/link").mode) == "lrwxrwxrwx"
        assert image.file("/dev/null").sha256 is None
        assert image.file("/dev/null").size == 0


def test_owner_names_from_image(tmp_path: Path) -> None:
    entries = [
        k.directory("etc"),
        k.file("etc/passwd", PASSWD),
        k.file("etc/group", GROUP),
        k.file("home/app/x", b"data", uid=1000, gid=1001),
        k.file("srv/y", uid=4242, gid=0),
    ]
    with open_entries(tmp_path, entries) as image:
        x = image.file("/home/app/x")
        assert (x.uid, x.gid, x.user, x.group) == (1000, 1001, "app", "staff")
        y = image.file("/srv/y")
        assert (y.uid, y.user, y.group) == (4242, None, "root")


def test_owner_names_through_symlinked_etc(tmp_path: Path) -> None:
    entries = [
        k.file("data/passwd", PASSWD),
        k.directory("etc"),
        k.symlink("etc/passwd", "../data/passwd"),
        k.file("x", uid=1000),
    ]
    with open_entries(tmp_path, entries) as image:
        assert image.file("/x").user == "app"
        assert image.file("/x").group is None


def test_no_passwd(tmp_path: Path) -> None:
    with open_entries(tmp_path, [k.file("x")]) as image:
        assert image.file("/x").user is None


def test_xattrs_and_capabilities(tmp_path: Path) -> None:
    entries = [
        k.file(
            "usr/bin/ping",
            b"ping",
            mode=0o755,
            xattrs={"security.capability": CAP_NET_BIND, "user.note": b"\x00\xffbin"},
        ),
        k.file("plain"),
    ]
    with open_entries(tmp_path, entries) as image:
        ping = image.file("/usr/bin/ping")
        assert ping.capabilities == "cap_net_bind_service=ep"
        assert ping.xattrs == {"security.capability": CAP_NET_BIND, "user.note": b"\x00\xffbin"}
        assert image.file("/plain").xattrs == {}
        assert image.file("/plain").capabilities is None


def test_libarchive_xattrs(tmp_path: Path) -> None:
    entry = k.file("f", b"x")
    entry.info.pax_headers = {"LIBARCHIVE.xattr.user.a": "aGVsbG8"}  # "hello", unpadded
    with open_entries(tmp_path, [entry]) as image:
        assert image.file("/f").xattrs == {"user.a": b"hello"}


LONG = "/".join([f"long-directory-name-{i:02d}" for i in range(8)]) + "/file.txt"
UNICODE = "srv/données/日本語/файл.txt"


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_long_paths(tmp_path: Path, fmt: int) -> None:
    assert len(LONG) > 100
    name = LONG if fmt != tarfile.USTAR_FORMAT else LONG[:150]
    target = "/" + "t" * 120 if fmt != tarfile.USTAR_FORMAT else "/short"
    entries = [k.file(name, b"deep"), k.symlink("link", target)]
    with open_entries(tmp_path, entries, fmt=fmt) as image:
        assert image.file(name).read_bytes() == b"deep"
        assert image.file("/link").linked_to == target


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_unicode_paths(tmp_path: Path, fmt: int) -> None:
    with open_entries(tmp_path, [k.file(UNICODE, "héllo".encode())], fmt=fmt) as image:
        assert image.glob("**/*.txt") == ["/" + UNICODE]
        assert image.file(UNICODE).read_text() == "héllo"
        assert image.listdir("/srv") == ["données"]


def test_large_ids_and_mtime(tmp_path: Path) -> None:
    entry = k.file("big", b"x", uid=3_000_000, gid=2_500_000)
    entry.info.mtime = 1_700_000_123
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        with open_entries(tmp_path, [entry], fmt=fmt) as image:
            f = image.file("/big")
            assert (f.uid, f.gid, f.mtime) == (3_000_000, 2_500_000, 1_700_000_123)


def test_file_value_and_content(tmp_path: Path) -> None:
    data = b"line one\nPORT=8080\n"
    with open_entries(tmp_path, [k.file("etc/app.conf", data, mode=0o640, uid=1, gid=2)]) as image:
        f = image.file("etc/app.conf")
        assert f == image.file("/etc/app.conf")
        assert isinstance(f, File)
        assert f.path == "/etc/app.conf"
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert f.size == len(data)
        assert f.contains("PORT=8080")
        assert f.contains(b"line one")
        assert f.contains(re.compile(r"PORT=\d+"))
        assert f.contains(re.compile(rb"^line", re.M))
        assert not f.contains("nope")
        assert f.read_text().splitlines() == ["line one", "PORT=8080"]
        assert "reader" not in repr(f)


def test_files_are_hashable_values(tmp_path: Path) -> None:
    with open_entries(tmp_path, [k.file("a", b"1", xattrs={"user.k": b"v"})]) as image:
        assert len({image.file("/a"), image.file("a"), image.file("/b")}) == 2
