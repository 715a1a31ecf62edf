"""Package readers against databases written by the real tools (dpkg, apt, pip,
setuptools); apk's by hand in its documented format."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pytest_imagebuild import ImageFormatError
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import Package, read_packages
from pytest_imagebuild.packages.dbfile import MAX_DB_BYTES
from tests.image.imagekit import (
    Spec,
    config,
    directory,
    docker_archive,
    file,
    layer,
    simple,
    symlink,
    whiteout,
)
from tests.packages.conftest import DISTROLESS_PACKAGES

QUERY = "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${db:Status-Status}\n"


def dpkg_query(admindir: Path) -> set[tuple[str, str, str, str]]:
    """What dpkg itself lists as installed in that database."""
    out = subprocess.run(
        ["dpkg-query", f"--admindir={admindir}", "-W", f"-f={QUERY}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return {(n, v, a, s) for n, v, a, s, status in rows if status == "installed"}


def listed(packages: list[Package]) -> set[tuple[str, str, str, str]]:
    return {(p.name, p.version, p.arch or "", p.source or "") for p in packages}


def test_dpkg_status_matches_dpkg_query(debian_packages: Image, tmp_path: Path) -> None:
    # dpkg-query reads the status file the image holds, copied out of it
    (tmp_path / "updates").mkdir()
    status = debian_packages.file("/var/lib/dpkg/status").read_bytes()
    (tmp_path / "status").write_bytes(status)
    dpkg = debian_packages.packages.ecosystem("dpkg")
    assert listed(list(dpkg.values())) == dpkg_query(tmp_path)
    popt = dpkg["libpopt0"]
    assert popt == Package(
        "libpopt0", popt.version, "dpkg", "/var/lib/dpkg/status", popt.arch, "popt"
    )
    assert popt.version.startswith("1.19")


def test_apt_install_adds_to_the_base(debian_packages: Image, debian_rootfs: Path) -> None:
    base = dpkg_query(debian_rootfs / "var/lib/dpkg")
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert listed(list(debian_packages.packages.values())) - base == {
        ("libpopt0", debian_packages.packages["libpopt0"].version, arch, "popt")
    }


def test_a_package_purged_in_a_later_layer_is_gone(debian_packages: Image) -> None:
    assert "libgdbm6" not in debian_packages.packages
    install, purge = debian_packages.layers[-2:]
    assert "apt-get" in install.created_by
    assert "dpkg --purge" in purge.created_by
    (status,) = [
        f for f in debian_packages.layer_files(install.index) if f.path == "/var/lib/dpkg/status"
    ]
    assert "Package: libgdbm6\n" in status.read_text()


def test_distroless_status_d(busybox_packages: Image, debian_rootfs: Path) -> None:
    dpkg = busybox_packages.packages.ecosystem("dpkg")
    assert sorted(dpkg) == sorted(DISTROLESS_PACKAGES)
    base = {row[0]: row for row in dpkg_query(debian_rootfs / "var/lib/dpkg")}
    assert listed(list(dpkg.values())) == {base[name] for name in DISTROLESS_PACKAGES}
    assert dpkg["libc6"].path == "/var/lib/dpkg/status.d/libc6"
    assert dpkg["libc6"].source == "glibc"


def test_apk_installed(busybox_packages: Image) -> None:
    apk = busybox_packages.packages.ecosystem("apk")
    assert list(apk.values()) == [
        Package("busybox-binsh", "1.36.1-r15", "apk", "/lib/apk/db/installed", "x86_64",
                "busybox", "GPL-2.0-only"),
        Package("musl", "1.2.4_git20230717-r4", "apk", "/lib/apk/db/installed", "x86_64",
                "musl", "MIT"),
    ]  # fmt: skip


def test_python_dist_info_and_egg_info(busybox_packages: Image) -> None:
    python = busybox_packages.packages.ecosystem("python")
    site = "/usr/lib/python3.11/site-packages"
    # setuptools writes the Name as given or normalised, depending on its version
    pkg_info = busybox_packages.file(f"{site}/Egg_Demo.egg-info/PKG-INFO").read_text()
    (egg,) = re.findall(r"^Name: (.+)$", pkg_info, re.M)
    assert egg in ("Egg-Demo", "Egg_Demo")
    assert {(p.name, p.version, p.path) for p in python.values()} == {
        ("six", "1.16.0", f"{site}/six-1.16.0.dist-info/METADATA"),
        ("idna", "3.6", f"{site}/idna-3.6.dist-info/METADATA"),
        (egg, "0.3.post1", f"{site}/Egg_Demo.egg-info/PKG-INFO"),
    }
    assert python["six"].license == "MIT"
    # PEP 503 names: any spelling finds the distribution
    assert busybox_packages.packages["egg_demo"] is python[egg]
    assert "EGG.DEMO" in busybox_packages.packages


def test_image_packages_is_cached(busybox_packages: Image) -> None:
    assert busybox_packages.packages is busybox_packages.packages
    assert busybox_packages.packages.ecosystems == ("dpkg", "apk", "python")


def write(tmp_path: Path, spec: Spec) -> Image:
    return Image.open(docker_archive(tmp_path / "image.tar", spec))


def test_a_later_layer_deleting_the_database_removes_its_packages(tmp_path: Path) -> None:
    status = b"Package: a\nStatus: install ok installed\nVersion: 1\n"
    first = layer([directory("var/lib/dpkg/"), file("var/lib/dpkg/status", status)])
    second = layer([whiteout("var/lib/dpkg/status")])
    with write(tmp_path, Spec([first, second], config([first, second]))) as image:
        assert len(image.packages) == 0
        assert read_packages(image).every == ()


def test_hostile_databases_stay_inside_and_never_raise_tracebacks(tmp_path: Path) -> None:
    garbage = (
        b"\xff\xfe\x00junk\n\nPackage: ok\nStatus: install ok installed\nVersion: 2\n\n"
        b"Package: no-status\nVersion: 1\n\nno colon here\n\nPackage: half\n"
        b"Status: deinstall ok config-files\nVersion: 3\n"
    )
    spec = simple(
        [
            directory("var/lib/dpkg/"),
            file("var/lib/dpkg/status", garbage),
            directory("lib/apk/db/"),
            symlink("lib/apk/db/installed", "../../../../../../etc/apk-db"),
            directory("etc/"),
            file("etc/apk-db", b"P:inside\nV:1.0-r0\n"),
            directory("usr/lib/python3/dist-packages/x.dist-info/"),
            file("usr/lib/python3/dist-packages/x.dist-info/METADATA", b"Name: x\n"),
        ]
    )
    with write(tmp_path, spec) as image:
        assert [str(p) for p in image.packages.every] == ["ok 2 (dpkg)", "inside 1.0-r0 (apk)"]


def test_oversized_database_is_refused(tmp_path: Path) -> None:
    big = b"Package: a\nVersion: 1\n" + b"#" * (MAX_DB_BYTES + 1)
    spec = simple([directory("lib/apk/db/"), file("lib/apk/db/installed", big)])
    with write(tmp_path, spec) as image, pytest.raises(ImageFormatError, match="byte limit"):
        read_packages(image)
