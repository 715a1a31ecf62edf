"""Pulling from a real docker-registry: anonymous, by digest, platform choice, tampering."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.registry import (
    Reference,
    Registries,
    RegistryOptions,
    check_push_permission,
    pull,
    pull_image,
    push_image,
)
from pytest_imagebuild.errors import RegistryError
from pytest_imagebuild.oci import OCI_INDEX, Platform
from tests.support.registry import RunningRegistry, free_port
from tests.support.registry_images import add_image, add_index


def seed(reg: RunningRegistry, tmp_path: Path, name: str = "test/busybox:1") -> str:
    """Push a two-layer image to ``reg``; returns the manifest digest."""
    store = BlobStore(tmp_path / "seed")
    data, kind = add_image(
        store, [{"bin/hello": b"hello\n"}, {"etc/motd": b"welcome\n"}], platform="linux/amd64"
    )
    with Registries(reg.options()) as registries:
        return push_image(f"{reg.host}/{name}", store, data, kind, registries=registries)


def test_pull_anonymous(registry, tmp_path):
    reg = registry()
    digest = seed(reg, tmp_path)
    store = BlobStore(tmp_path / "store")
    with Registries(reg.options()) as registries:
        pulled = pull_image(f"{reg.host}/test/busybox:1", store, registries=registries)
    assert pulled.manifest_digest == digest
    assert pulled.reference == Reference(reg.host, "test/busybox", "1")
    assert pulled.config["os"] == "linux"
    assert len(pulled.layers) == 2
    assert all(store.has(layer.digest) for layer in pulled.layers)
    assert store.has(pulled.config_digest)
    assert store.has(digest)


def test_pull_by_digest_verifies_manifest(registry, tmp_path):
    reg = registry()
    digest = seed(reg, tmp_path)
    store = BlobStore(tmp_path / "store")
    with Registries(reg.options()) as registries:
        pulled = pull_image(f"{reg.host}/test/busybox@{digest}", store, registries=registries)
        assert pulled.manifest_digest == digest
        wrong = "sha256:" + "0" * 64
        with pytest.raises(RegistryError, match="manifest unknown"):
            pull_image(f"{reg.host}/test/busybox@{wrong}", store, registries=registries)


def test_platform_choice_from_index(registry, tmp_path):
    reg = registry()
    store = BlobStore(tmp_path / "seed")
    amd = add_image(store, [{"arch": b"amd64\n"}], platform="linux/amd64")
    arm = add_image(store, [{"arch": b"arm64\n"}], platform="linux/arm64/v8", docker=True)
    index, kind = add_index(
        store, [(amd[0], amd[1], "linux/amd64"), (arm[0], arm[1], "linux/arm64/v8")]
    )
    assert kind == OCI_INDEX
    with Registries(reg.options()) as registries:
        index_digest = push_image(f"{reg.host}/multi:1", store, index, kind, registries=registries)
        out = BlobStore(tmp_path / "out")
        got_arm = pull_image(
            f"{reg.host}/multi:1", out, registries=registries, platform="linux/arm64"
        )
        got_amd = pull_image(
            f"{reg.host}/multi:1", out, registries=registries, platform=Platform("linux", "amd64")
        )
        with pytest.raises(
            RegistryError,
            match=r"no image for platform linux/s390x.*offers: linux/amd64, linux/arm64/v8",
        ):
            pull_image(f"{reg.host}/multi:1", out, registries=registries, platform="linux/s390x")
    assert got_arm.index_digest == index_digest == got_amd.index_digest
    assert got_arm.config["architecture"] == "arm64"
    assert got_amd.config["architecture"] == "amd64"
    assert got_arm.platform == Platform("linux", "arm64", "v8")
    assert got_arm.manifest_media_type.endswith("manifest.v2+json")


def test_tampered_blob_is_a_digest_mismatch(registry, tmp_path):
    reg = registry()
    seed(reg, tmp_path)
    manifest = json.loads(BlobStore(tmp_path / "seed").path(seed(reg, tmp_path)).read_bytes())
    layer = manifest["layers"][0]["digest"]
    stored = reg.blob_data_path(layer)
    stored.write_bytes(b"x" * stored.stat().st_size)
    store = BlobStore(tmp_path / "store")
    with Registries(reg.options()) as registries, pytest.raises(RegistryError) as info:
        pull_image(f"{reg.host}/test/busybox:1", store, registries=registries)
    text = str(info.value)
    assert f"digest mismatch for blob {layer}" in text
    assert reg.host in text
    assert not store.has(layer)
    assert not list((tmp_path / "store/blobs/sha256").glob(".tmp-*"))


def test_unreachable_registry(tmp_path):
    host = f"127.0.0.1:{free_port()}"
    options = RegistryOptions(retries=0, env={}, docker_config=tmp_path)
    with Registries(options) as registries, pytest.raises(RegistryError) as info:
        pull_image(f"{host}/nothing:1", BlobStore(tmp_path / "s"), registries=registries)
    assert f"cannot reach registry {host}" in str(info.value)
    assert "is the registry running? for plain HTTP use --insecure-pull" in str(info.value)


def test_unknown_tag(registry, tmp_path):
    reg = registry()
    seed(reg, tmp_path)
    with Registries(reg.options()) as registries, pytest.raises(RegistryError) as info:
        pull_image(
            f"{reg.host}/test/busybox:nope", BlobStore(tmp_path / "s"), registries=registries
        )
    assert str(info.value).startswith(
        f"manifest unknown: {reg.host}/test/busybox:nope does not exist in registry {reg.host}"
    )


def test_mirror_is_tried_first(registry, tmp_path):
    mirror, origin = registry(), registry()
    seed(mirror, tmp_path, "test/busybox:1")
    options = mirror.options(registry_map={"registry.invalid": (f"{mirror.host}",)})
    with Registries(options) as registries:
        pulled = pull(
            "registry.invalid/test/busybox:1", BlobStore(tmp_path / "s"), registries=registries
        )
    assert pulled.source == f"{mirror.host}/test/busybox:1"
    assert pulled.reference == Reference.parse("registry.invalid/test/busybox:1")
    del origin


def test_tampered_manifest_is_a_digest_mismatch(registry, tmp_path):
    reg = registry()
    digest = seed(reg, tmp_path)
    stored = reg.blob_data_path(digest)
    original = stored.read_bytes()
    stored.write_bytes(original.replace(b'"schemaVersion":', b'"schemaVersion" :', 1))
    store = BlobStore(tmp_path / "store")
    with Registries(reg.options()) as registries:
        for name in (f"test/busybox@{digest}", "test/busybox:1"):
            with pytest.raises(RegistryError, match="digest mismatch") as info:
                pull_image(f"{reg.host}/{name}", store, registries=registries)
            assert digest in str(info.value)


def test_retries_until_the_registry_answers(registry, tmp_path):
    port = free_port()
    started = []
    timer = threading.Timer(0.5, lambda: started.append(registry(port=port)))
    timer.start()
    options = RegistryOptions(retries=4, backoff=0.3, env={}, docker_config=tmp_path)
    try:
        with Registries(options) as registries:
            check_push_permission(f"127.0.0.1:{port}/late/app:1", registries=registries)
    finally:
        timer.join()
    assert started
