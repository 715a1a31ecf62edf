"""Image pairs for the diff tests, built by the embedded executor on the busybox base, and
Debian bases whose dpkg databases apt and dpkg write."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.packages.conftest import _run

Builder = Callable[..., Path]


@pytest.fixture(scope="session")
def base_ref(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("diff-base"))
    return f"oci:{layout}"


@pytest.fixture
def build_tar(tmp_path: Path) -> Builder:
    """Build a Dockerfile into a tarball under tmp_path; ``files`` and the Dockerfile are
    written into ``context`` (a fresh directory unless given)."""
    count = iter(range(1000))

    def run(
        dockerfile: str,
        files: dict[str, str] | None = None,
        context: Path | None = None,
        **kwargs: object,
    ) -> Path:
        n = next(count)
        context = context or tmp_path / f"ctx{n}"
        write_tree(context, {**(files or {}), "Dockerfile": dockerfile})
        out = tmp_path / f"out{n}.tar"
        options = BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=out,
            created="2020-01-01T00:00:00Z",
            **kwargs,  # type: ignore[arg-type]
        )
        build(options, verbose=False)
        return out

    return run


@pytest.fixture
def pair(base_ref: str, build_tar: Builder) -> Iterator[Callable[[str, str], tuple[Image, Image]]]:
    """Build two Dockerfile tails on the same base and open both images."""
    opened: list[Image] = []

    def make(first: str, second: str) -> tuple[Image, Image]:
        a = Image.open(build_tar(f"FROM {base_ref}\n{first}"))
        opened.append(a)
        b = Image.open(build_tar(f"FROM {base_ref}\n{second}"))
        opened.append(b)
        return a, b

    yield make
    for image in opened:
        image.close()


# --- Debian images with real dpkg databases, for the package diff and the bump walk ---

DEMO_CONTROL = """\
Package: demo-tool
Version: {version}
Architecture: all
Maintainer: pytest-imagebuild tests <tests@example.invalid>
Description: a small package for the diff tests
"""
POPT_RUN = (
    "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libpopt0 \\\n"
    "    && rm -rf /var/lib/apt/lists/*\n"
)


def demo_deb(folder: Path, version: str) -> Path:
    """A one-file package built by dpkg-deb, installed later by dpkg in a RUN."""
    root = folder / f"demo-tool-{version}"
    write_tree(
        root,
        {
            "DEBIAN/control": DEMO_CONTROL.format(version=version),
            "usr/share/demo-tool/VERSION": version + "\n",
        },
    )
    out = folder / f"demo-tool_{version}_all.deb"
    done = subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"dpkg-deb failed ({done.returncode}): {done.stderr[-2000:]}")
    return out


def build_layout(context: Path, dockerfile: str, files: dict[str, Path] | None = None) -> Path:
    """Build ``dockerfile`` (with ``files`` linked into the context) to an OCI layout."""
    context.mkdir(parents=True, exist_ok=True)
    for name, source in (files or {}).items():
        try:
            os.link(source, context / name)
        except OSError:
            shutil.copyfile(source, context / name)
    (context / "Dockerfile").write_text(dockerfile)
    layout = context.parent / f"{context.name}-layout"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            oci_layout_path=layout,
            destinations=(f"imagebuild-test/{context.name}:1",),
            cache_dir=context.parent / "layer-cache",
            created="2020-01-01T00:00:00Z",
        ),
        verbose=False,
    )
    return layout


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def rootfs_layout(tar: Path, dest: Path) -> Path:
    """A one-layer OCI layout whose layer is the rootfs tarball itself (hard-linked): the
    image ``docker import`` would make, without building anything."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer = _sha256(tar)
    try:
        os.link(tar, blobs / layer)
    except OSError:
        shutil.copyfile(tar, blobs / layer)

    def put(document: Mapping[str, object], media_type: str) -> dict[str, object]:
        data = json.dumps(document, sort_keys=True).encode()
        name = hashlib.sha256(data).hexdigest()
        (blobs / name).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{name}", "size": len(data)}

    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2020-01-01T00:00:00Z",
        "config": {
            "Cmd": ["bash"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer}"]},
        "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "debootstrap"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": put(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": f"sha256:{layer}",
                "size": tar.stat().st_size,
            }
        ],
    }
    index = {
        "schemaVersion": 2,
        "manifests": [put(manifest, "application/vnd.oci.image.manifest.v1+json")],
    }
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
    (dest / "index.json").write_text(json.dumps(index) + "\n")
    return dest


@dataclass(frozen=True)
class DebianBases:
    """OCI layouts: the Debian minbase (its rootfs tarball as the one layer), then apt-get's
    libpopt0 and dpkg's demo-tool 1.0-1 on it (the bump), then demo-tool upgraded to 1.1-1
    by dpkg (the upgrade)."""

    plain: Path
    bumped: Path
    upgraded: Path


@pytest.fixture(scope="session")
def debian_bases(debian_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> DebianBases:
    work = tmp_path_factory.mktemp("debian-bases")
    plain = rootfs_layout(debian_rootfs_tar, work / "plain-layout")
    old, new = demo_deb(work, "1.0-1"), demo_deb(work, "1.1-1")
    install = "COPY {0} /tmp/\nRUN dpkg -i /tmp/{0} && rm /tmp/{0}\n"
    bumped = build_layout(
        work / "bumped",
        f"FROM oci:{plain}\n{POPT_RUN}{install.format(old.name)}",
        {old.name: old},
    )
    upgraded = build_layout(
        work / "upgraded", f"FROM oci:{bumped}\n{install.format(new.name)}", {new.name: new}
    )
    return DebianBases(plain, bumped, upgraded)


# --- rpm databases written by rpmbuild and rpm, old and new ---


def spec(version: str, release: str = "1", license_: str = "MIT", epoch: str = "") -> str:
    return (f"Epoch: {epoch}\n" if epoch else "") + (
        f"Version: {version}\nRelease: {release}\nLicense: {license_}\n"
    )


# name -> (spec fields in the old database, in the new one); None: not installed there
RPMS: dict[str, tuple[str | None, str | None]] = {
    "demo-tool": (spec("1.2.3", "4"), spec("1.10")),  # 1.10 > 1.2.3 for rpm, not as text
    "libdemo": (spec("0.9~rc1"), spec("0.9")),  # "~" sorts before anything
    "epochdemo": (spec("2.0"), spec("1.0", epoch="1")),  # an epoch outweighs the version
    "downdemo": (spec("2.0"), spec("1.9", "7")),
    "licdemo": (spec("1.0"), spec("1.0", license_="Apache-2.0")),
    "gone": (spec("1.0"), None),
    "fresh": (None, spec("3.0", "2")),
}


def _rpm_db(work: Path, dbpath: Path, side: int) -> None:
    top = work / f"top{side}"
    for name, fields in RPMS.items():
        if fields[side] is None:
            continue
        spec = work / f"{name}-{side}.spec"
        spec.write_text(
            f"Name: {name}\n{fields[side]}Summary: demo\nBuildArch: noarch\n"
            "%description\ndemo\n%files\n"
        )
        _run("rpmbuild", "-bb", "--nodeps", "--quiet", "--define", f"_topdir {top}", str(spec))
    dbpath.mkdir(parents=True)
    _run("rpm", "--initdb", "--dbpath", str(dbpath))
    rpms = sorted(str(p) for p in top.rglob("*.rpm"))
    _run("rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(dbpath), *rpms)


@pytest.fixture(scope="session")
def rpm_pair(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two images: busybox with the old rpm database, and that image with the new database
    copied over it in a later layer."""
    work = tmp_path_factory.mktemp("rpm-pair")
    (work / "old").mkdir(exist_ok=True)
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(work / "old/rootfs")], check=True)
    _rpm_db(work, work / "old/db/var/lib/rpm", 0)
    _rpm_db(work, work / "new/db/var/lib/rpm", 1)
    old = build_layout(work / "old", "FROM scratch\nCOPY rootfs/ /\nCOPY db/ /\n")
    new = build_layout(work / "new", f"FROM oci:{old}\nCOPY db/ /\n")
    return old, new
