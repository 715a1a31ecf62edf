"""Unpacking real ``docker save`` layers gives the tree ``docker export`` says it should."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.builder.fs import unpack_layer
from tests.builder.test_fs_common import CAP_NET_BIND, info, make_tar, tar_listing, tree_listing
from tests.support.docker import DockerDaemon
from tests.support.tarfiles import extract_all

# Paths docker creates in every container (mounts and init files): not part of the image.
CONTAINER_ONLY = (
    ".dockerenv",
    "dev",
    "proc",
    "sys",
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/mtab",
)

DOCKERFILE = """\
FROM {base}
ADD caps.tar /
RUN mkdir -p /a/b/c /d/e /opq/sub /devs \\
 && echo hi > /a/b/c/f && echo keep > /a/keep && echo del > /a/del \\
 && ln /a/b/c/f /a/hl && chmod 4755 /a/keep && chmod 2755 /d \\
 && echo old > /opq/old && echo sub > /opq/sub/x \\
 && ln -s ../a/keep /rel && ln -s /a/b /abs && mkfifo /a/fifo \\
 && mknod /devs/null c 1 3 && mknod /devs/loop b 7 0 \\
 && chown 1000:1000 /d/e /a/keep && chmod 4755 /a/keep
RUN rm /a/del && rm -rf /opq && mkdir /opq && echo new > /opq/new \\
 && rm -rf /a/b/c && echo more >> /a/hl && chmod 700 /d/e && rm /abs && ln -s /d /abs \\
 && rm /bin/ls && mkdir /bin/ls && echo dir > /bin/ls/file
"""


@pytest.fixture(scope="module")
def saved_image(
    docker_daemon: DockerDaemon, busybox_image: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(docker save tarball, docker export tarball) of an image full of tricky cases."""
    work = tmp_path_factory.mktemp("unpack-docker")
    context = work / "context"
    context.mkdir()
    caps = info(
        "usr/bin/ping6",
        mode=0o755,
        pax_headers={"SCHILY.xattr.security.capability": CAP_NET_BIND.decode("latin-1")},
    )
    (context / "caps.tar").write_bytes(
        make_tar(
            [
                (info("usr", tarfile.DIRTYPE), None),
                (info("usr/bin", tarfile.DIRTYPE), None),
                (caps, b"\x7fELF-not-really"),
            ]
        )
    )
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_image))
    tag = docker_daemon.build(context, tag="imagebuild-test/fs-unpack:1")
    return docker_daemon.save(tag, work / "saved.tar"), docker_daemon.export(
        tag, work / "export.tar"
    )


def _layers(saved: Path, dest: Path) -> list[Path]:
    with tarfile.open(saved) as tar:
        extract_all(tar, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    return [dest / name for name in manifest[0]["Layers"]]


def test_unpacked_tree_matches_docker_export(
    saved_image: tuple[Path, Path], tmp_path: Path
) -> None:
    saved, exported = saved_image
    root = tmp_path / "root"
    root.mkdir()
    reports = [unpack_layer(layer, root) for layer in _layers(saved, tmp_path / "saved")]
    assert all(not r.skipped for r in reports), [r.skipped.lines() for r in reports]
    assert sum(r.whiteouts for r in reports) >= 3  # .wh.del, .wh..wh..opq, .wh.c, ...
    expected = tar_listing(exported, skip=CONTAINER_ONLY, mtimes=True)
    actual = tree_listing(root, skip=CONTAINER_ONLY, mtimes=True)
    assert actual == expected
    assert actual["a/keep"][1:4] == (0o4755, 1000, 1000)
    assert actual["usr/bin/ping6"][6] == CAP_NET_BIND.hex()
    assert actual["devs/null"][0] == "char"
    assert (root / "a/hl").stat().st_nlink == 1  # its other name went with /a/b/c
    assert not (root / "opq/old").exists()


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_layers_unpack_the_same(
    saved_image: tuple[Path, Path], tmp_path: Path, compression: str
) -> None:
    import zstandard
    from isal import igzip

    layers = _layers(saved_image[0], tmp_path / "saved")
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    plain.mkdir()
    packed.mkdir()
    for index, layer in enumerate(layers):
        data = layer.read_bytes()
        blob = tmp_path / f"layer{index}.{compression}"
        if compression == "gzip":
            blob.write_bytes(igzip.compress(data))
        else:
            blob.write_bytes(zstandard.ZstdCompressor().compress(data))
        assert unpack_layer(blob, packed).compression == compression
        unpack_layer(layer, plain, threads=0)
    assert tree_listing(packed) == tree_listing(plain)
