"""Image outputs checked by real consumers: ``docker load``/``run`` and ``buildah pull``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild import oci
from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.fs import (
    Entry,
    LayerBlob,
    Snapshotter,
    write_layer,
    write_layer_from_entries,
)
from pytest_imagebuild.builder.output import (
    ArchiveLayer,
    LayoutLayer,
    build_manifest,
    write_digest_file,
    write_docker_archive,
    write_name_tag_with_digest_file,
    write_name_with_digest_file,
    write_oci_layout,
)
from tests.support.docker import DockerDaemon

BUILDAH = "/usr/bin/buildah"


def image_layers(rootfs: Path, store: BlobStore, tmp_path: Path) -> list[LayerBlob]:
    """A gzip base layer from the busybox root and a zstd layer adding /hello.txt."""
    snap = Snapshotter(rootfs)
    snap.index = {}
    base = write_layer(rootfs, snap.snapshot(), store, compression="gzip")
    hello = tmp_path / "hello.txt"
    hello.write_text("hello from a layer\n")
    top = write_layer_from_entries(
        [Entry.from_host(hello, "/srv/hello.txt", mtime=0)], store, compression="zstd"
    )
    return [base, top]


def config_for(layers: list[LayerBlob]) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["cat", "/srv/hello.txt"], "Env": ["PATH=/bin:/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "base"}, {"created_by": "COPY hello.txt /srv/"}],
    }
    return json.dumps(config, separators=(",", ":")).encode()


@pytest.fixture
def built(busybox_rootfs: Path, tmp_path: Path) -> tuple[list[LayerBlob], bytes]:
    layers = image_layers(busybox_rootfs, BlobStore(tmp_path / "store"), tmp_path)
    return layers, config_for(layers)


def test_docker_archive_loads_and_runs(
    docker_daemon: DockerDaemon, built: tuple[list[LayerBlob], bytes], tmp_path: Path
) -> None:
    layers, config = built
    tag = "imagebuild-test/output-archive:1"
    archive = tmp_path / "image.tar"
    image_id = write_docker_archive(
        archive, config, [(layer.diff_id, layer.path, layer.compressed) for layer in layers], [tag]
    )
    assert image_id == "sha256:" + hashlib.sha256(config).hexdigest()
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [tag]
    assert manifest[0]["Layers"][0].endswith(".tar.gz")
    assert manifest[0]["Layers"][1] == layers[1].diff_id.partition(":")[2] + ".tar"  # unzstd
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    docker_daemon.remove_image(tag)
    assert tag in docker_daemon.load(archive)
    assert docker_daemon.inspect(tag)["Id"] == image_id
    run = docker_daemon.run("run", "--rm", "--network", "none", tag)
    assert run.stdout == b"hello from a layer\n"
    shell = docker_daemon.run(
        "run", "--rm", "--network", "none", tag, "sh", "-c", "ls /bin | wc -l"
    )
    assert int(shell.stdout) > 100
    docker_daemon.remove_image(tag)


def test_docker_archive_checks_diff_ids(
    built: tuple[list[LayerBlob], bytes], tmp_path: Path
) -> None:
    from pytest_imagebuild.errors import UsageError

    layers, config = built
    with pytest.raises(UsageError, match="diff_ids"):
        write_docker_archive(
            tmp_path / "x.tar", config, [ArchiveLayer(layers[1].diff_id, layers[1].path)], ["x:1"]
        )
    assert not (tmp_path / "x.tar").exists()


def buildah(storage: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        BUILDAH,
        "--root",
        str(storage / "root"),
        "--runroot",
        str(storage / "run"),
        "--storage-driver",
        "vfs",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_oci_layout_and_archive_pull_with_buildah(
    built: tuple[list[LayerBlob], bytes], tmp_path: Path
) -> None:
    layers, config = built
    refs = [LayoutLayer(b.digest, b.size, b.path, b.media_type) for b in layers]
    manifest = build_manifest(config, refs)
    layout = tmp_path / "layout"
    digest = write_oci_layout(
        layout, manifest, config, refs, ["v1"], platform=oci.Platform("linux", "amd64")
    )
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "v1"}
    for blob in [digest, *(ref.digest for ref in refs)]:
        data = (layout / "blobs/sha256" / blob.partition(":")[2]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == blob
    storage = tmp_path / "buildah"
    buildah(storage, "pull", "--quiet", f"oci:{layout}:v1")
    archive = tmp_path / "image.tar"
    write_docker_archive(
        archive,
        config,
        [(b.diff_id, b.path, b.compressed) for b in layers],
        ["localhost/imagebuild-test/buildah:1"],
    )
    buildah(storage, "pull", "--quiet", f"docker-archive:{archive}")
    listed = buildah(storage, "images", "--format", "{{.Name}}:{{.Tag}}").stdout
    assert "localhost/imagebuild-test/buildah:1" in listed
    inspect = json.loads(
        buildah(storage, "inspect", "--type", "image", "localhost/imagebuild-test/buildah:1").stdout
    )
    assert inspect["OCIv1"]["rootfs"]["diff_ids"] == [b.diff_id for b in layers]


def test_digest_files(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    names = ["registry.local:5000/team/app:1.2", "registry.local:5000/team/app"]
    write_digest_file(tmp_path / "digest", digest)
    write_name_with_digest_file(tmp_path / "names", names, digest)
    write_name_tag_with_digest_file(tmp_path / "tags", names, digest)
    assert (tmp_path / "digest").read_text() == digest
    assert (tmp_path / "names").read_text().splitlines() == [
        f"registry.local:5000/team/app@{digest}"
    ] * 2
    assert (tmp_path / "tags").read_text().splitlines() == [
        f"registry.local:5000/team/app:1.2@{digest}",
        f"registry.local:5000/team/app:latest@{digest}",
    ]
