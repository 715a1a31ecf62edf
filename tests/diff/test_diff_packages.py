"""Package changes in the image diff, on databases the real tools write: apt and dpkg on the
Debian minbase, rpmbuild and ``rpm -i --justdb`` on the busybox base; then how they read
(assertion lines, the table, JSON) and how ignore rules and ``only`` cut them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild import ImageFormatError, UsageError
from pytest_imagebuild.diff import PackageChange, diff
from pytest_imagebuild.diff.model import FieldChange
from pytest_imagebuild.diff.packages import place, source_name
from pytest_imagebuild.diff.render import diff_lines, diff_table, to_json
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import Package
from tests.diff.conftest import DebianBases
from tests.image import imagekit as kit


@pytest.fixture(scope="module")
def rpm_images(rpm_pair: tuple[Path, Path]) -> Iterator[tuple[Image, Image]]:
    with Image.open(rpm_pair[0]) as a, Image.open(rpm_pair[1]) as b:
        yield a, b


def test_rpm_changes_follow_rpm_order(rpm_images: tuple[Image, Image]) -> None:
    a, b = rpm_images
    found = {p.name: p for p in diff(a, b).packages}
    assert [p.name for p in diff(a, b).packages] == sorted(found)  # sorted by name
    assert found["demo-tool"] == PackageChange("rpm", "demo-tool", "upgraded", "1.2.3-4", "1.10-1")
    assert found["libdemo"] == PackageChange("rpm", "libdemo", "upgraded", "0.9~rc1-1", "0.9-1")
    assert found["epochdemo"] == PackageChange("rpm", "epochdemo", "upgraded", "2.0-1", "1:1.0-1")
    assert found["downdemo"] == PackageChange("rpm", "downdemo", "downgraded", "2.0-1", "1.9-7")
    assert found["licdemo"] == PackageChange(
        "rpm",
        "licdemo",
        "changed",
        "1.0-1",
        "1.0-1",
        (FieldChange("license", "MIT", "Apache-2.0"),),
    )
    assert found["gone"] == PackageChange("rpm", "gone", "removed", "1.0-1", None)
    assert found["fresh"] == PackageChange("rpm", "fresh", "added", None, "3.0-2")
    # the database file itself changed, in the files section
    assert "/var/lib/rpm/rpmdb.sqlite" in {c.path for c in diff(a, b).changed}
    back = {p.name: p.change for p in diff(b, a).packages}
    assert (back["demo-tool"], back["downdemo"]) == ("downgraded", "upgraded")
    assert (back["gone"], back["fresh"]) == ("added", "removed")


def test_dpkg_package_added_in_a_later_layer_and_upgraded(debian_bases: DebianBases) -> None:
    with (
        Image.open(debian_bases.plain) as plain,
        Image.open(debian_bases.bumped) as bumped,
        Image.open(debian_bases.upgraded) as upgraded,
    ):
        popt = bumped.packages["libpopt0"].version
        assert diff(plain, bumped).packages == (
            PackageChange("dpkg", "demo-tool", "added", None, "1.0-1"),
            PackageChange("dpkg", "libpopt0", "added", None, popt),
        )
        up = diff(bumped, upgraded)
        assert up.packages == (PackageChange("dpkg", "demo-tool", "upgraded", "1.0-1", "1.1-1"),)
        changed = {c.path: [f.field for f in c.changes] for c in up.changed}
        assert changed["/usr/share/demo-tool/VERSION"] == ["sha256"]
        down = diff(upgraded, bumped, only=["packages"])
        assert down.packages == (
            PackageChange("dpkg", "demo-tool", "downgraded", "1.1-1", "1.0-1"),
        )
        assert (down.added, down.changed, down.config) == ((), (), ())


def test_rendering_and_json(rpm_images: tuple[Image, Image]) -> None:
    result = diff(*rpm_images, only=["packages"])
    lines = diff_lines(result, limit=3)
    assert lines == [
        "packages (7):",
        "  rpm demo-tool: 1.2.3-4 -> 1.10-1 (upgraded)",
        "  rpm downdemo: 2.0-1 -> 1.9-7 (downgraded)",
        "  rpm epochdemo: 2.0-1 -> 1:1.0-1 (upgraded)",
        "  ... 4 more packages (-v or -vv shows more)",
    ]
    every = diff_lines(result, None)
    assert "  rpm licdemo: 1.0-1; license: 'MIT' -> 'Apache-2.0'" in every
    assert "  rpm fresh: 3.0-2 (added)" in every
    assert "  rpm gone: 1.0-1 (removed)" in every
    table = diff_table(result).splitlines()
    assert table[-1].endswith("; 7 packages changed")
    assert ["+", "rpm", "fresh", "version", "3.0-2", "(added)"] in [row.split() for row in table]
    doc = json.loads(to_json(result))
    assert doc["schema_version"] == 2
    assert {
        "ecosystem": "rpm", "name": "licdemo", "place": "", "change": "changed",
        "old": "1.0-1", "new": "1.0-1",
        "fields": [{"field": "license", "old": "MIT", "new": "Apache-2.0"}],
    } in doc["packages"]  # fmt: skip


def test_package_ignore_rules(rpm_images: tuple[Image, Image]) -> None:
    a, b = rpm_images

    def names(*rules: str) -> list[str]:
        return [p.name for p in diff(a, b, ignore=rules, only=["packages"]).packages]

    everything = ["demo-tool", "downdemo", "epochdemo", "fresh", "gone", "libdemo", "licdemo"]
    assert names() == everything
    assert names("packages") == names("packages.rpm") == names("packages.*.*") == []
    assert names("packages.dpkg") == everything
    # upgrades only: the downgrade, the addition and the removal stay
    assert names("packages.rpm.*demo*:upgraded") == ["downdemo", "fresh", "gone", "licdemo"]
    assert names("packages.rpm.licdemo:license", "packages:added") == [
        "demo-tool", "downdemo", "epochdemo", "gone", "libdemo",
    ]  # fmt: skip
    assert names("packages.rpm.licdemo:upgraded") == everything
    assert names("packages:changed") == [n for n in everything if n != "licdemo"]
    for bad in ("packages.rpm.x:newer", "packages..x", "packages.rpm.a b"):
        with pytest.raises(UsageError, match="not a package rule"):
            diff(a, b, ignore=[bad])


def test_unreadable_database_fails_unless_packages_are_ignored(tmp_path: Path) -> None:
    layers = [kit.layer([kit.file("var/lib/rpm/Packages", b"\x00" * 64)])]
    path = kit.docker_archive(tmp_path / "image.tar", kit.Spec(layers, kit.config(layers)))
    with Image.open(path) as image:
        with pytest.raises(ImageFormatError, match="Berkeley DB"):
            diff(image, image)
        assert diff(image, image, ignore=["packages"]).is_empty
        assert diff(image, image, only=["files", "config"]).is_empty
    with pytest.raises(UsageError, match="unknown diff section nope"):
        diff(image, image, only=["files", "nope"])


def test_two_places_of_one_name_are_paired_by_place() -> None:
    def py(path: str) -> Package:
        return Package("six", "1.16.0", "python", path)

    assert place(py("/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA")) == (
        "/usr/lib/python3/dist-packages"
    )
    assert place(py("/opt/venv/lib/python3.11/site-packages/six.egg-info")) == (
        "/opt/venv/lib/python3.11/site-packages"
    )
    npm = Package("@s/x", "1.0.0", "npm", "/app/node_modules/@s/x/package.json")
    assert place(npm) == "/app/node_modules"
    nested = Package("x", "1.0.0", "npm", "/app/node_modules/y/node_modules/x/package.json")
    assert place(nested) == "/app/node_modules/y/node_modules"
    assert place(Package("libc6", "2.36", "dpkg", "/var/lib/dpkg/status")) == ""


def test_npm_nested_copy_upgrade_is_reported_at_its_place(tmp_path: Path) -> None:
    def package_json(version: str) -> bytes:
        return json.dumps({"name": "x", "version": version}).encode()

    images = []
    for n, nested in enumerate(("1.0.0", "1.2.0")):
        layers = [
            kit.layer(
                [
                    kit.file("app/node_modules/x/package.json", package_json("2.0.0")),
                    kit.file(
                        "app/node_modules/y/node_modules/x/package.json", package_json(nested)
                    ),
                ]
            )
        ]
        (tmp_path / str(n)).mkdir()
        images.append(
            kit.docker_archive(tmp_path / str(n) / "i.tar", kit.Spec(layers, kit.config(layers)))
        )
    with Image.open(images[0]) as a, Image.open(images[1]) as b:
        assert diff(a, b, only=["packages"]).packages == (
            PackageChange(
                "npm", "x", "upgraded", "1.0.0", "1.2.0", place="/app/node_modules/y/node_modules"
            ),
        )
        assert diff_lines(diff(a, b, only=["packages"]))[1] == (
            "  npm x [/app/node_modules/y/node_modules]: 1.0.0 -> 1.2.0 (upgraded)"
        )


def test_cli_only_and_package_rows(rpm_pair: tuple[Path, Path]) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pytest_imagebuild", "diff", *map(str, rpm_pair), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    done = run("--only", "packages")
    assert done.returncode == 1, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["~", "rpm", "demo-tool", "version", "1.2.3-4", "->", "1.10-1", "(upgraded)"] in rows
    assert not any(row[1].startswith("/") for row in rows[1:-1])  # no file rows
    assert run("--only", "packages", "--ignore", "packages").stdout == "no differences\n"
    bad = run("--only", "files,bogus")
    assert bad.returncode == 2
    assert "imagebuild diff: error: unknown diff section bogus" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_source_is_compared_by_name() -> None:
    assert source_name("demo-tool-1.10-1.src.rpm") == "demo-tool"
    assert source_name("python-six-1.16.0-2.fc39.src.rpm") == "python-six"
    assert source_name("glibc (2.36-9+deb12u7)") == "glibc"
    assert source_name("popt") == "popt"
    assert source_name(None) is None
