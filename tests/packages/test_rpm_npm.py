"""rpm and npm readers on databases the real tools write: Debian's ``rpmbuild`` and ``rpm``
(``--initdb``, ``-i --justdb``) for an rpmdb.sqlite, ``npm install`` from the npm registry
for a node_modules tree; both built into an image by the embedded executor."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild import ImageFormatError
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import read_packages
from tests.image import imagekit as kit
from tests.packages.conftest import _build, _run

SPECS = {
    "demo-tool": "Epoch: 2\nVersion: 1.2.3\nRelease: 4\nLicense: MIT\n",
    "libdemo": "Version: 0.9~rc1\nRelease: 1.el9\nLicense: GPL-2.0-or-later\n",
}
NPM_PACKAGES = ("is-number@7.0.0", "is-odd@3.0.1", "@isaacs/string-locale-compare@1.1.0")
QUERY = "%{NAME}\t%{EPOCHNUM}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{LICENSE}\t%{SOURCERPM}\n"


def _rpm_db(work: Path, dbpath: Path) -> None:
    """Build two small rpms with rpmbuild and record them in a fresh sqlite rpmdb."""
    for name, fields in SPECS.items():
        spec = work / f"{name}.spec"
        spec.write_text(
            f"Name: {name}\n{fields}Summary: demo\nBuildArch: noarch\n%description\ndemo\n%files\n"
        )
        _run("rpmbuild", "-bb", "--nodeps", "--quiet", "--define", f"_topdir {work}/top", str(spec))
    dbpath.mkdir(parents=True)
    _run("rpm", "--initdb", "--dbpath", str(dbpath))
    rpms = sorted(str(p) for p in (work / "top").rglob("*.rpm"))
    _run("rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(dbpath), *rpms)


def rpm_query(dbpath: Path) -> set[tuple[str, str, str, str, str]]:
    """What rpm itself lists in that database, as (name, version, arch, license, source)."""
    out = subprocess.run(
        ["rpm", "-qa", "--dbpath", str(dbpath), "--qf", QUERY],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = set()
    for line in out.splitlines():
        name, epoch, version, arch, license_, source = line.split("\t")
        rows.add((name, f"{epoch}:{version}" if epoch != "0" else version, arch, license_, source))
    return rows


def npm_list(prefix: Path) -> set[tuple[str, str]]:
    """``npm ls --all``: every (name, version) in the tree, nested ones included."""
    out = subprocess.run(
        ["npm", "ls", "--all", "--json", "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: set[tuple[str, str]] = set()
    todo = [json.loads(out)]
    while todo:
        for name, info in todo.pop().get("dependencies", {}).items():
            found.add((name, info["version"]))
            todo.append(info)
    return found


@pytest.fixture(scope="module")
def tree(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("rpm-npm")
    shutil.copytree(busybox_rootfs, context / "rootfs", symlinks=True)
    _rpm_db(tmp_path_factory.mktemp("rpmwork"), context / "extra/var/lib/rpm")
    app = context / "extra/srv/app"
    app.mkdir(parents=True)
    (app / "package.json").write_text('{"name": "the-app", "version": "0.0.1"}\n')
    _run(
        "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock",
        "--loglevel=error", "--prefix", str(app), *NPM_PACKAGES,
    )  # fmt: skip
    (context / "Dockerfile").write_text("FROM scratch\nCOPY rootfs/ /\nCOPY extra/ /\n")
    return context


@pytest.fixture(scope="module")
def image(tree: Path) -> Iterator[Image]:
    with Image.open(_build(tree, tree.parent / "rpm-npm.tar")) as opened:
        yield opened


def test_rpm_packages_match_rpm_query(image: Image, tree: Path) -> None:
    rpm = image.packages.ecosystem("rpm")
    found = {(p.name, p.version, p.arch, p.license, p.source) for p in rpm.values()}
    assert found == rpm_query(tree / "extra/var/lib/rpm")
    assert rpm["demo-tool"].version == "2:1.2.3-4"
    assert rpm["libdemo"].path == "/var/lib/rpm/rpmdb.sqlite"


def test_npm_packages_match_npm_ls(image: Image, tree: Path) -> None:
    npm = image.packages.ecosystem("npm")
    assert {(p.name, p.version) for p in npm.every} == npm_list(tree / "extra/srv/app")
    # is-odd needs is-number 6, so npm nests it: both copies are listed.
    versions = sorted(p.version for p in image.packages.all("is-number"))
    assert versions == ["6.0.0", "7.0.0"]
    # plain lookup takes the shallowest copy
    assert image.packages["is-number"].path == "/srv/app/node_modules/is-number/package.json"
    assert npm["is-odd"].license == "MIT"
    assert "the-app" not in image.packages  # the project itself is not a dependency


def _archive(tmp_path: Path, entries: list[kit.Entry]) -> Image:
    layers = [kit.layer(entries)]
    path = kit.docker_archive(tmp_path / "image.tar", kit.Spec(layers, kit.config(layers)))
    return Image.open(path)


def test_rpmdb_under_usr_lib_sysimage(tree: Path, tmp_path: Path) -> None:
    data = (tree / "extra/var/lib/rpm/rpmdb.sqlite").read_bytes()
    entries = [
        kit.directory("usr/lib/sysimage/rpm"),
        kit.file("usr/lib/sysimage/rpm/rpmdb.sqlite", data),
    ]
    with _archive(tmp_path, entries) as image:
        names = sorted(p.name for p in read_packages(image).ecosystem("rpm").every)
    assert names == ["demo-tool", "libdemo"]


def test_rows_still_in_the_write_ahead_log_are_read(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "db"
    shutil.copytree(tree / "extra/var/lib/rpm", copy)
    conn = sqlite3.connect(copy / "rpmdb.sqlite")
    try:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("INSERT INTO Packages(blob) SELECT blob FROM Packages ORDER BY hnum LIMIT 1")
        conn.commit()
        database = (copy / "rpmdb.sqlite").read_bytes()
        wal = (copy / "rpmdb.sqlite-wal").read_bytes()
    finally:
        conn.close()
    assert wal, "sqlite left no write-ahead log to test with"
    entries = [
        kit.file("var/lib/rpm/rpmdb.sqlite", database),
        kit.file("var/lib/rpm/rpmdb.sqlite-wal", wal),
    ]
    with _archive(tmp_path, entries) as image:
        assert len(read_packages(image).ecosystem("rpm").every) == 3


@pytest.mark.parametrize(("name", "kind"), [("Packages", "Berkeley DB"), ("Packages.db", "ndb")])
def test_old_rpm_formats_are_refused_by_name(tmp_path: Path, name: str, kind: str) -> None:
    entries = [kit.file(f"var/lib/rpm/{name}", b"\x00" * 64)]
    with _archive(tmp_path, entries) as image, pytest.raises(ImageFormatError) as info:
        read_packages(image)
    assert str(info.value).startswith(f"/var/lib/rpm/{name}: rpm database in the {kind} format")
    assert "hint: " in str(info.value)


def test_hostile_rpm_databases(tree: Path, tmp_path: Path) -> None:
    garbage = [kit.file("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\x00" + b"\xff" * 200)]
    with (
        _archive(tmp_path, garbage) as image,
        pytest.raises(ImageFormatError, match="not a readable rpm sqlite database"),
    ):
        read_packages(image)
    copy = tmp_path / "bad.sqlite"
    shutil.copyfile(tree / "extra/var/lib/rpm/rpmdb.sqlite", copy)
    conn = sqlite3.connect(copy)
    try:
        # 1,000 index entries claimed, none there
        conn.execute("UPDATE Packages SET blob = x'000003e800000010' WHERE hnum = 1")
        conn.commit()
    finally:
        conn.close()
    entries = [kit.file("var/lib/rpm/rpmdb.sqlite", copy.read_bytes())]
    (tmp_path / "second").mkdir()
    with (
        _archive(tmp_path / "second", entries) as image,
        pytest.raises(ImageFormatError, match=r"rpmdb\.sqlite row 1: header claims 1000"),
    ):
        read_packages(image)


def test_bad_package_json_names_the_file(tmp_path: Path) -> None:
    entries = [
        kit.file("app/node_modules/ok/package.json", b'{"name": "ok", "version": "1.0.0"}'),
        kit.file("app/node_modules/bad/package.json", b'{"name": "bad", '),
        kit.file("app/node_modules/novers/package.json", b'{"name": "novers"}'),
    ]
    with _archive(tmp_path, entries) as image, pytest.raises(ImageFormatError) as info:
        read_packages(image)
    assert str(info.value).startswith("/app/node_modules/bad/package.json: bad JSON")


def test_plain_lookup_takes_the_shallowest_copy(tmp_path: Path) -> None:
    def package_json(version: str) -> bytes:
        return json.dumps({"name": "x", "version": version}).encode()

    entries = [
        kit.file("app/node_modules/aaa/node_modules/x/package.json", package_json("1.0.0")),
        kit.file("app/node_modules/x/package.json", package_json("2.0.0")),
    ]
    with _archive(tmp_path, entries) as image:
        packages = read_packages(image)
    assert packages["x"].version == "2.0.0"
    assert [p.version for p in packages.all("x")] == ["2.0.0", "1.0.0"]
