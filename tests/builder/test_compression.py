"""kaniko's ``--compression`` and ``--compression-level``: the layers the build writes, in an
OCI layout and in a push to a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.builder.test_cli import imagebuild
from tests.support.registry import RegistryFactory

ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
GZIP = {  # docker's manifest type for gzip layers, as kaniko writes it, or OCI's
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip",
}


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base(busybox_rootfs, tmp_path_factory.mktemp("compressbase"))[1]


def _context(tmp_path: Path, base: Path) -> Path:
    text = "".join(f"line {i} of a file that compresses well\n" for i in range(60_000))
    return write_tree(
        tmp_path / "ctx",
        {"Dockerfile": f"FROM oci:{base}\nCOPY big.txt /big.txt\nRUN echo made > /made\n",
         "big.txt": text},
    )  # fmt: skip


def _own_layers(layout: Path) -> list[dict[str, object]]:
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    return list(manifest["layers"][1:])  # after the base's one layer


def _layout(ctx: Path, out: Path, *args: str) -> list[dict[str, object]]:
    proc = imagebuild("-c", ctx, "--no-push", "--oci-layout-path", out, *args)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as image:
        assert image.file("/made").read_text() == "made\n"
    return _own_layers(out)


def test_zstd_and_gzip_layers_in_the_layout(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, base)
    assert {
        layer["mediaType"] for layer in _layout(ctx, tmp_path / "z", "--compression", "zstd")
    } == {ZSTD}
    assert {
        layer["mediaType"] for layer in _layout(ctx, tmp_path / "g", "--compression", "gzip")
    } <= GZIP
    plain = _layout(ctx, tmp_path / "n")
    assert {layer["mediaType"] for layer in plain} <= {
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.v1.tar",
    }


def test_the_level_is_used(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, base)
    fast = _layout(ctx, tmp_path / "fast", "--compression", "zstd", "--compression-level", "1")
    small = _layout(ctx, tmp_path / "small", "--compression", "zstd", "--compression-level", "19")
    assert int(str(small[0]["size"])) < int(str(fast[0]["size"]))


def test_a_push_with_zstd(base: Path, registry: RegistryFactory, tmp_path: Path) -> None:
    reg = registry()
    ctx = _context(tmp_path, base)
    proc = imagebuild("-c", ctx, "-d", f"{reg.host}/app:z", "--compression", "zstd")
    assert proc.returncode == 0, proc.stderr
    accept = (
        "application/vnd.oci.image.manifest.v1+json,"
        "application/vnd.docker.distribution.manifest.v2+json"
    )
    resp = httpx.get(f"{reg.url}/v2/app/manifests/z", headers={"Accept": accept})
    assert resp.status_code == 200, resp.text
    layers = resp.json()["layers"]
    assert {layer["mediaType"] for layer in layers[1:]} == {ZSTD}


def test_cached_layers_of_another_encoding_are_not_reused(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, base)
    cache = ("--cache", "--cache-dir", str(tmp_path / "cache"), "--cache-copy-layers")
    _layout(ctx, tmp_path / "plain", *cache)
    zstd = _layout(ctx, tmp_path / "zstd", *cache, "--compression", "zstd")
    assert {layer["mediaType"] for layer in zstd} == {ZSTD}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--no-push", "--compression-level", "5"), "--compression-level without --compression"),
        (("--no-push", "--compression", "gzip", "--compression-level", "12"), "gzip has levels"),
        (("--no-push", "--compression-level", "99"), "invalid level 99"),
        (("--no-push", "--compression", "lz4"), "invalid choice"),
    ],
)
def test_bad_compression_flags(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n"})
    proc = imagebuild("-c", ctx, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
