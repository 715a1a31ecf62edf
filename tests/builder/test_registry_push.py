"""Push then pull roundtrips: monolithic and chunked uploads, mounts, indexes, OCI layouts."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.registry import (
    Reference,
    Registries,
    blob_exists,
    pull,
    pull_image,
    push_image,
)
from pytest_imagebuild.errors import RegistryError
from tests.support.registry_images import add_image, add_index


def image(tmp_path, name="seed"):
    store = BlobStore(tmp_path / name)
    data, kind = add_image(
        store,
        [{"bin/tool": b"\x7fELF" + bytes(range(256)) * 40}, {"etc/conf": name.encode()}],
        config_extra={"Entrypoint": ["/bin/tool"]},
    )
    return store, data, kind


@pytest.mark.parametrize("chunk_size", [None, 100])
def test_push_then_pull_roundtrip(registry, tmp_path, chunk_size):
    reg = registry(auth="basic")
    store, data, kind = image(tmp_path)
    manifest = json.loads(data)
    with Registries(reg.options(chunk_size=chunk_size)) as registries:
        digest = push_image(f"{reg.host}/round/trip:v1", store, data, kind, registries=registries)
        out = BlobStore(tmp_path / "out")
        pulled = pull_image(f"{reg.host}/round/trip:v1", out, registries=registries)
    assert pulled.manifest_digest == digest
    assert pulled.manifest == manifest
    assert pulled.config["config"]["Entrypoint"] == ["/bin/tool"]
    patches = reg.log().count('"PATCH /v2/round/trip/blobs/uploads/')
    if chunk_size:
        assert patches > len(pulled.layers) + 1
    else:
        assert patches == 0
    for layer in pulled.layers:
        assert out.path(layer.digest).read_bytes() == store.path(layer.digest).read_bytes()
        assert (
            reg.blob_data_path(layer.digest).read_bytes() == store.path(layer.digest).read_bytes()
        )


def test_second_push_skips_existing_blobs_and_mounts_across_repositories(registry, tmp_path):
    reg = registry(auth="token")
    store, data, kind = image(tmp_path)
    layer = json.loads(data)["layers"][0]["digest"]
    with Registries(reg.options()) as registries:
        push_image(f"{reg.host}/team/base:1", store, data, kind, registries=registries)
        client = registries.client(reg.host)
        target = Reference.parse(f"{reg.host}/team/app:1")
        assert not blob_exists(client, target, layer)
        push_image(
            target, store, data, kind, registries=registries,
            mount_from=[Reference.parse(f"{reg.host}/team/base:1")],
        )  # fmt: skip
        assert blob_exists(client, target, layer)
    log = reg.log()
    assert "mount=" in log
    assert "from=team%2Fbase" in log
    assert "PUT /v2/team/app/blobs/uploads" not in log
    assert "PUT /v2/team/base/blobs/uploads" in log


def test_push_index_then_pull_each_platform(registry, tmp_path):
    reg = registry()
    store = BlobStore(tmp_path / "seed")
    amd = add_image(store, [{"arch": b"amd64"}], platform="linux/amd64", docker=True)
    arm = add_image(store, [{"arch": b"arm"}], platform="linux/arm/v7", docker=True)
    index, kind = add_index(
        store, [(amd[0], amd[1], "linux/amd64"), (arm[0], arm[1], "linux/arm/v7")], docker=True
    )
    with Registries(reg.options()) as registries:
        push_image(f"{reg.host}/multi:2", store, index, kind, registries=registries)
        got = pull_image(f"{reg.host}/multi:2", BlobStore(tmp_path / "o"), registries=registries,
                         platform="linux/arm")  # fmt: skip
    assert got.config["architecture"] == "arm"
    assert got.platform is not None
    assert got.platform.variant == "v7"


def test_push_missing_blob_names_the_store(registry, tmp_path):
    reg = registry()
    store, data, kind = image(tmp_path)
    missing = json.loads(data)["layers"][1]["digest"]
    store.path(missing).unlink()
    with Registries(reg.options()) as registries, pytest.raises(RegistryError, match=missing):
        push_image(f"{reg.host}/x:1", store, data, kind, registries=registries)


def write_layout(store: BlobStore, root, entries):
    """An OCI layout at ``root`` with ``store``'s blobs and ``entries`` in index.json."""
    shutil.copytree(store.root / "blobs", root / "blobs")
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))


def test_oci_layout_source(tmp_path):
    store, data, kind = image(tmp_path)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    other, odata, okind = image(tmp_path, "other")
    odigest = "sha256:" + hashlib.sha256(odata).hexdigest()
    assert odigest != digest
    shutil.copytree(other.root / "blobs", store.root / "blobs", dirs_exist_ok=True)
    layout = tmp_path / "layout"
    tag = "org.opencontainers.image.ref.name"
    write_layout(store, layout, [
        {"mediaType": kind, "digest": digest, "size": len(data), "annotations": {tag: "v1"}},
        {"mediaType": okind, "digest": odigest, "size": len(odata), "annotations": {tag: "v2"}},
    ])  # fmt: skip
    out = BlobStore(tmp_path / "out")
    with Registries() as registries:
        pulled = pull(f"oci:{layout}:v1", out, registries=registries)
        assert pulled.manifest_digest == digest
        assert pulled.source == f"oci:{layout}:v1"
        assert all(out.has(layer.digest) for layer in pulled.layers)
        with pytest.raises(RegistryError, match="holds 2 images"):
            pull(layout, out, registries=registries)
        with pytest.raises(RegistryError, match="no image tagged 'v3'"):
            pull(f"oci:{layout}:v3", out, registries=registries)
