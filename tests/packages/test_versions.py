"""Version ordering against the real tools: ``dpkg --compare-versions`` and packaging."""

from __future__ import annotations

import functools
import itertools
import subprocess

import pytest

from pytest_imagebuild import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import compare_versions

DEBIAN = [
    "0", "1.0~~", "1.0~~a", "1.0~", "1.0", "1.0-0", "1.0-1", "1.0-1~bpo1", "1.0-1+b1",
    "1.0a", "1.0+", "1.0.1", "1.0-10", "1.00-2", "2:0.1", "1:9.9", "1.0-1ubuntu0.1",
    "3.0.11-1~deb12u2", "3.0.11-1", "3.0.11-1+deb12u2", "9.9a+really1.0", "1.2.3+dfsg-1",
]  # fmt: skip

PEP440_DOCUMENTED = [
    "1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
    "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
    "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
    "1.0.15", "1.1.dev1",
]  # fmt: skip


def dpkg_says(a: str, relation: str, b: str) -> bool:
    proc = subprocess.run(["dpkg", "--compare-versions", a, relation, b], check=False)
    return proc.returncode == 0


def dpkg_cmp(a: str, b: str) -> int:
    return -1 if dpkg_says(a, "lt", b) else (1 if dpkg_says(a, "gt", b) else 0)


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(DEBIAN, 2)))
def test_debian_pairs_match_dpkg(a: str, b: str) -> None:
    assert compare_versions("dpkg", a, b) == dpkg_cmp(a, b)
    assert compare_versions("dpkg", b, a) == -dpkg_cmp(a, b)


def test_debian_base_versions_sort_as_dpkg_sorts(debian_packages: Image) -> None:
    versions = sorted({p.version for p in debian_packages.packages.ecosystem("dpkg").values()})
    ordered = sorted(
        versions, key=functools.cmp_to_key(lambda a, b: compare_versions("dpkg", a, b))
    )
    assert len(ordered) > 50
    for low, high in itertools.pairwise(ordered):
        assert dpkg_says(low, "lt", high), (low, high)


def test_equal_debian_spellings() -> None:
    assert compare_versions("dpkg", "0:1.0", "1.0") == 0
    assert dpkg_cmp("0:1.0", "1.0") == 0


def test_pep440_documented_order() -> None:
    for low, high in itertools.pairwise(PEP440_DOCUMENTED):
        assert compare_versions("python", low, high) == -1, (low, high)
        assert compare_versions("python", high, low) == 1
    assert compare_versions("python", "1.0", "1.0.0") == 0
    assert compare_versions("python", "v1.0-RC1", "1.0rc1") == 0


def test_bad_versions_and_unordered_ecosystems_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="not a Debian version"):
        compare_versions("dpkg", "a:1", "1")
    with pytest.raises(UsageError, match="not a PEP 440 version"):
        compare_versions("python", "1.0-", "1")
    with pytest.raises(UsageError, match="not an apk version"):
        compare_versions("apk", "1.0-x", "1.0-r1")
    with pytest.raises(UsageError, match="not a semver version"):
        compare_versions("npm", "1.0", "1.0.1")
    with pytest.raises(UsageError, match="no version ordering for 'pacman'") as excinfo:
        compare_versions("pacman", "1.0-1", "1.0-2")
    assert "version=" in str(excinfo.value)
