"""Shared caches through a real docker-registry and an OCI layout; failures only warn."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import httpx
import pytest

from pytest_imagebuild.builder.cache import (
    CachePolicy,
    LayerCache,
    LocalCache,
    StepKey,
    base_key,
    default_cache_repo,
    step_key,
)
from pytest_imagebuild.builder.registry import Registries, RegistryOptions
from pytest_imagebuild.errors import UsageError
from tests.builder.cache_support import make_layer, run_step
from tests.support.registry import free_port

PLATFORM = "linux/amd64"
POLICY = CachePolicy(copy_layers=True)


def a_key(text="RUN make"):
    return step_key(base_key("sha256:" + "a" * 64, PLATFORM), text, platform=PLATFORM)


def sha256_of(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("auth", "tls"), [("basic", False), ("token", True)])
def test_registry_roundtrip_into_a_fresh_local_cache(registry, tmp_path, caplog, auth, tls):
    reg = registry(auth=auth, tls=tls)
    repo = f"{reg.host}/app/cache"
    key, empty_key = a_key(), a_key("RUN true")
    with Registries(reg.options()) as registries:
        with LayerCache.open(
            tmp_path / "one", policy=POLICY, repo=repo, registries=registries
        ) as cache:
            layer = make_layer(cache.blobs, {"usr/bin/app": b"\x7fELF" * 5000}, gz=True)
            cache.store(key, run_step("make", layer))
            cache.store(empty_key, run_step("true", None))
            cache.wait()
            assert cache.stats.pushed == 2
            assert cache.stats.warnings == []
        if auth == "basic":
            tags = httpx.get(
                f"{reg.url}/v2/app/cache/tags/list", auth=(reg.username, reg.password)
            ).json()["tags"]
            assert sorted(tags) == sorted([key.hex, empty_key.hex])
        with LayerCache.open(
            tmp_path / "two", policy=POLICY, repo=repo, registries=registries
        ) as fresh:
            found = fresh.lookup(key)
            assert found is not None
            assert found.layer == layer
            assert found.created_by == "/bin/sh -c make"
            assert sha256_of(fresh.blobs.path(layer.digest)) == layer.digest
            assert fresh.lookup(empty_key).layer is None
            assert fresh.stats.remote_hits == 2
            assert fresh.lookup(a_key("RUN other")) is None
            assert fresh.stats.misses == 1
    # the hit now lives in the fresh local cache, usable without the registry
    assert LocalCache(tmp_path / "two").get(key).layer == layer
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_registry_entry_is_a_one_layer_image(registry, tmp_path):
    reg = registry()
    repo = f"{reg.host}/cache"
    key = a_key()
    with Registries(reg.options()) as registries:
        cache = LayerCache.open(tmp_path / "c", policy=POLICY, repo=repo, registries=registries)
        layer = make_layer(cache.blobs, {"etc/x": b"x"})
        cache.store(key, run_step("make", layer))
        cache.close()
    headers = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    manifest = httpx.get(f"{reg.url}/v2/cache/manifests/{key.hex}", headers=headers).json()
    assert [item["digest"] for item in manifest["layers"]] == [layer.digest]
    config_digest = manifest["config"]["digest"]
    config = httpx.get(f"{reg.url}/v2/cache/blobs/{config_digest}").json()
    assert config["rootfs"]["diff_ids"] == [layer.diff_id]
    assert config["history"][0]["created_by"] == "/bin/sh -c make"
    assert config["imagebuild.cache"]["key"] == key.hex
    assert config["created"].endswith("Z")


def test_expired_remote_entry_is_a_miss(registry, tmp_path):
    reg = registry()
    repo = f"{reg.host}/cache"
    key = a_key()
    with Registries(reg.options()) as registries:
        with LayerCache.open(tmp_path / "a", policy=POLICY, repo=repo, registries=registries) as c:
            c.store(key, run_step("make", None, created=time.time() - 7200))
        short = CachePolicy(copy_layers=True, ttl=3600)
        with LayerCache.open(tmp_path / "b", policy=short, repo=repo, registries=registries) as c:
            assert c.lookup(key) is None
            assert c.stats.misses == 1


def test_no_push_cache_keeps_entries_local(registry, tmp_path):
    reg = registry()
    policy = CachePolicy(no_push_cache=True)
    with (
        Registries(reg.options()) as registries,
        LayerCache.open(
            tmp_path / "a", policy=policy, repo=f"{reg.host}/cache", registries=registries
        ) as cache,
    ):
        cache.store(a_key(), run_step("make", None))
        cache.wait()
        assert cache.stats.pushed == 0
    assert httpx.get(f"{reg.url}/v2/cache/tags/list").status_code == 404


def test_oci_layout_cache_roundtrip(tmp_path):
    repo = f"oci:{tmp_path / 'shared'}"
    key = a_key()
    with LayerCache.open(tmp_path / "one", policy=POLICY, repo=repo) as cache:
        layer = make_layer(cache.blobs, {"srv/app.py": b"print(1)\n"})
        cache.store(key, run_step("make", layer))
        cache.store(key, run_step("make", layer))  # a second store of one key is harmless
    layout = tmp_path / "shared" / key.hex
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == key.hex
    assert [p.name for p in (tmp_path / "shared").iterdir()] == [key.hex]
    with LayerCache.open(tmp_path / "two", policy=POLICY, repo=repo) as fresh:
        found = fresh.lookup(key)
        assert found is not None
        assert found.layer == layer
        assert sha256_of(fresh.blobs.path(layer.digest)) == layer.digest
        assert fresh.stats.remote_hits == 1


def test_tampered_oci_layout_entry_is_a_warning_and_a_miss(tmp_path, caplog):
    repo = f"oci:{tmp_path / 'shared'}"
    key = a_key()
    with LayerCache.open(tmp_path / "one", policy=POLICY, repo=repo) as cache:
        layer = make_layer(cache.blobs, {"a": b"a" * 4096})
        cache.store(key, run_step("make", layer))
    blob = tmp_path / "shared" / key.hex / "blobs" / "sha256" / layer.digest.split(":")[1]
    blob.write_bytes(b"not the layer")
    with (
        caplog.at_level(logging.WARNING, logger="pytest_imagebuild.builder.cache"),
        LayerCache.open(tmp_path / "two", policy=POLICY, repo=repo) as fresh,
    ):
        assert fresh.lookup(key) is None
        assert not fresh.blobs.has(layer.digest)
    assert "digest mismatch" in caplog.text


def test_unreachable_cache_registry_warns_and_misses(tmp_path, caplog):
    host = f"127.0.0.1:{free_port()}"
    registries = Registries(RegistryOptions(retries=0, backoff=0.01, timeout=5, env={}))
    key = a_key()
    with (
        caplog.at_level(logging.WARNING, logger="pytest_imagebuild.builder.cache"),
        registries,
        LayerCache.open(
            tmp_path / "c", policy=POLICY, repo=f"{host}/cache", registries=registries
        ) as cache,
    ):
        assert cache.lookup(key) is None
        cache.store(key, run_step("make", None))  # the push fails in the background
        cache.wait()
        assert cache.stats.misses == 1
        assert cache.stats.pushed == 0
        assert len(cache.stats.warnings) == 2
        assert cache.lookup(key) is not None  # the local entry still serves
    assert f"cannot reach registry {host}" in caplog.text
    assert "lookup of" in caplog.text
    assert "push of" in caplog.text


def test_cache_repo_with_a_tag_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="tag or digest"):
        LayerCache.open(tmp_path / "c", repo="127.0.0.1:5000/cache:v1", registries=Registries())


def test_policy_decides_which_steps_are_cached():
    default = CachePolicy()
    assert default.caches("RUN")
    assert not default.caches("COPY")
    assert not default.caches("ENV")
    both = CachePolicy(run_layers=False, copy_layers=True)
    assert both.caches("copy")
    assert both.caches("ADD")
    assert not both.caches("RUN")
    assert isinstance(a_key(), StepKey)


def test_default_cache_repo_follows_the_first_destination():
    assert default_cache_repo("registry.example.com/team/app:1.2") == (
        "registry.example.com/team/app/cache"
    )
    assert default_cache_repo("app") == "docker.io/library/app/cache"
