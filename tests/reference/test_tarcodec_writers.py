"""Both halves read the same members from layers that other writers made: bsdtar
(libarchive, with its LIBARCHIVE.xattr records), docker's ``docker save`` and buildah's
docker-archive. (BuildKit cannot run here; its layers go through the same Go tar writer
as docker's.)"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_imagebuild.builder.fs.tarreader import TarReader
from pytest_imagebuild.image.tarindex import iter_members
from pytest_imagebuild.image.tarreader import ChunkReader
from tests.reference.conftest import Reference
from tests.reference.test_oci_variants import Buildah, buildah  # noqa: F401 - fixture

Row = tuple[str, int, str, int, int, int, tuple[tuple[str, bytes], ...]]


def _clean(name: str) -> str:
    name = name.removeprefix("./").rstrip("/")
    return name or "."


def read_side(data: bytes) -> list[Row]:
    return [
        (_clean(m.name), m.size, m.link, m.mode & 0o7777, m.uid, m.gid,
         tuple(sorted((m.xattrs or {}).items())))
        for m in iter_members(ChunkReader(iter([data]), "layer.tar"), layer=False)
        if _clean(m.name) != "."
    ]  # fmt: skip


def builder_side(data: bytes) -> list[Row]:
    reader = TarReader(io.BytesIO(data), "layer.tar")
    rows = []
    while (m := reader.next()) is not None:
        if _clean(m.name) == ".":
            continue
        rows.append(
            # a link name counts only on links: docker leaves stale ones in whiteout headers
            (_clean(m.name), m.size, _clean(m.linkname) if m.type in (b"1", b"2") else "",
             m.mode & 0o7777,
             m.uid, m.gid, tuple(sorted(m.xattrs.items())))
        )  # fmt: skip
    return rows


def _same(data: bytes) -> list[Row]:
    seen, built = read_side(data), builder_side(data)
    # the read side names a hardlink's target without "./"; compare links the same way
    seen = [(n, s, _clean(link) if link else "", *rest) for n, s, link, *rest in seen]
    assert seen == built
    return seen


def test_bsdtar_pax_and_libarchive_xattrs(tmp_path: Path) -> None:
    if shutil.which("bsdtar") is None:
        pytest.fail("bsdtar is missing: apt-get install libarchive-tools", pytrace=False)
    src = tmp_path / "src"
    (src / "deep" / ("n" * 120)).mkdir(parents=True)
    (src / "deep" / ("n" * 120) / "file").write_text("data\n")
    (src / "plain").write_text("plain\n")
    os.setxattr(src / "plain", "user.note", b"a=b\x00c")
    os.link(src / "plain", src / "hard")
    (src / "link").symlink_to("plain")
    out = tmp_path / "bsd.tar"
    subprocess.run(
        ["bsdtar", "--format", "pax", "--xattrs", "-C", str(src), "-cf", str(out), "."],
        check=True,
    )
    rows = {row[0]: row for row in _same(out.read_bytes())}
    assert dict(rows["plain"][6]) == {"user.note": b"a=b\x00c"}
    assert rows["link"][2] == "plain"
    assert f"deep/{'n' * 120}/file" in rows


def _docker_layers(saved: Path) -> list[bytes]:
    with tarfile.open(saved) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        return [tar.extractfile(name).read() for name in manifest[0]["Layers"]]  # type: ignore[union-attr]


@pytest.mark.docker
@pytest.mark.parametrize("name", ["links", "modes", "names", "deletions"])
def test_docker_save_layers(name: str, reference_factory: Callable[[str], Reference]) -> None:
    layers = _docker_layers(reference_factory(name).saved)
    assert layers
    assert sum(len(_same(layer)) for layer in layers) > 0


@pytest.mark.docker
@pytest.mark.parametrize("name", ["links", "names"])
def test_buildah_docker_archive_layers(
    name: str,
    buildah: Buildah,  # noqa: F811 - the fixture
    reference_factory: Callable[[str], Reference],
    tmp_path: Path,
) -> None:
    ref = reference_factory(name)
    image = buildah("pull", "--quiet", f"docker-archive:{ref.saved}").splitlines()[-1]
    out = tmp_path / "buildah.tar"
    buildah("push", "--quiet", "--format", "v2s2", image, f"docker-archive:{out}:{ref.tag}")
    layers = _docker_layers(out)
    assert layers
    assert sum(len(_same(layer)) for layer in layers) > 0
