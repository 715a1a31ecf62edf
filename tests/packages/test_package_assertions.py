"""assert_package and assert_no_packages on the executor-built images."""

from __future__ import annotations

import pytest

import pytest_imagebuild
from pytest_imagebuild import UsageError, assert_no_packages, assert_package
from pytest_imagebuild.image import Image


def lines(excinfo: pytest.ExceptionInfo[AssertionError]) -> list[str]:
    return str(excinfo.value).splitlines()


def test_exported() -> None:
    assert {"assert_package", "assert_no_packages"} <= set(pytest_imagebuild.__all__)


def test_assert_package_passes_and_returns_the_package(debian_packages: Image) -> None:
    libc = assert_package(debian_packages, "libc6", min_version="2.36", max_version="2.37~")
    assert libc.source == "glibc"
    popt = debian_packages.packages["libpopt0"]
    assert assert_package(debian_packages, "libpopt0", version=popt.version) == popt
    # "~" sorts before everything, even the end of the string: 1.19~rc1 is below 1.19
    assert_package(debian_packages, "libpopt0", min_version="1.19~rc1", ecosystem="dpkg")


def test_assert_package_lists_every_mismatch(debian_packages: Image) -> None:
    popt = debian_packages.packages["libpopt0"]
    with pytest.raises(AssertionError) as excinfo:
        assert_package(
            debian_packages, "libpopt0", version="1.18-1", min_version="1:0", max_version="1.18"
        )
    assert lines(excinfo) == [
        "package libpopt0: 3 mismatches",
        f"  version: expected '1.18-1', found {popt.version!r}",
        f"  min_version: expected >= '1:0', found {popt.version!r}",
        f"  max_version: expected <= '1.18', found {popt.version!r}",
        f"read from /var/lib/dpkg/status: libpopt0 {popt.version} (dpkg)",
    ]


def test_assert_package_missing_names_similar_packages(debian_packages: Image) -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_package(debian_packages, "libpopt1")
    found = lines(excinfo)
    assert found[:3] == [
        "package libpopt1: 1 mismatch",
        "  installed: expected a package, found none",
        f"image packages: {len(debian_packages.packages)} dpkg, 0 apk, 0 rpm, 0 python, 0 npm",
    ]
    assert "installed packages like 'libpopt1':" in found
    assert f"  libpopt0 {debian_packages.packages['libpopt0'].version} (dpkg)" in found


def test_assert_package_by_ecosystem(busybox_packages: Image) -> None:
    assert_package(
        busybox_packages, "six", ecosystem="python", min_version="1.16", max_version="1.16.0"
    )
    assert_package(busybox_packages, "egg-demo", min_version="0.3", max_version="0.3.post1")
    with pytest.raises(AssertionError, match=r"max_version: expected <= '3.6rc1', found '3.6'"):
        assert_package(busybox_packages, "idna", max_version="3.6rc1")
    with pytest.raises(AssertionError, match=r"package six \(dpkg\): 1 mismatch"):
        assert_package(busybox_packages, "six", ecosystem="dpkg")
    assert_package(busybox_packages, "musl", ecosystem="apk", version="1.2.4_git20230717-r4")
    # apk's order: a _git suffix comes after the plain release, before the next one.
    assert_package(busybox_packages, "musl", min_version="1.2.4-r4", max_version="1.2.5")
    with pytest.raises(AssertionError, match=r"min_version: expected >= '1.2.4_p1'"):
        assert_package(busybox_packages, "musl", min_version="1.2.4_p1")
    with pytest.raises(UsageError, match="ecosystem must be one of"):
        assert_package(busybox_packages, "musl", ecosystem="pacman")


def test_assert_no_packages(debian_packages: Image, busybox_packages: Image) -> None:
    assert_no_packages(debian_packages, "gcc", "*-dev", "python3*")
    assert_no_packages(busybox_packages, "six", ecosystem="dpkg")
    with pytest.raises(AssertionError) as excinfo:
        assert_no_packages(busybox_packages, "libc*", "six", "mus?")
    assert lines(excinfo) == [
        "unexpected packages: 3 mismatches",
        f"  libc6 {busybox_packages.packages['libc6'].version} (dpkg) matches 'libc*'"
        " (read from /var/lib/dpkg/status.d/libc6)",
        "  musl 1.2.4_git20230717-r4 (apk) matches 'mus?' (read from /lib/apk/db/installed)",
        "  six 1.16.0 (python) matches 'six'"
        " (read from /usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA)",
    ]
    with pytest.raises(UsageError, match="at least one"):
        assert_no_packages(busybox_packages)
