"""Registry faults, injected by a loopback proxy in front of the real registry: each test
names the fault and what must still hold (the image arrives whole and verified, or the push
fails without moving the tag)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.registry import Registries, pull_image, push_image
from pytest_imagebuild.errors import RegistryError
from tests.support.faultproxy import Fault, FaultProxy, fault_proxy
from tests.support.registry import RunningRegistry
from tests.support.registry_images import add_image

LAYERS = [{"bin/hello": b"hello\n" * 50_000}, {"etc/motd": b"welcome\n"}]


def options(reg: RunningRegistry, proxy: FaultProxy, **overrides: object):
    values: dict[str, object] = {
        "insecure_registries": frozenset({proxy.host}),
        "retries": 3,
        "backoff": 0.05,
        "timeout": 1.0,
    }
    values.update(overrides)
    return reg.options(**values)


def seed(reg: RunningRegistry, tmp_path: Path, name: str, layers=LAYERS) -> str:
    store = BlobStore(tmp_path / f"seed-{name.replace('/', '_').replace(':', '_')}")
    data, kind = add_image(store, layers, platform="linux/amd64")
    with Registries(reg.options()) as registries:
        return push_image(f"{reg.host}/{name}", store, data, kind, registries=registries)


def pull_through(
    reg: RunningRegistry, proxy: FaultProxy, tmp_path: Path, **overrides: object
) -> str:
    store = BlobStore(tmp_path / "store")
    with Registries(options(reg, proxy, **overrides)) as registries:
        pulled = pull_image(f"{proxy.host}/test/img:1", store, registries=registries)
    assert all(store.has(layer.digest) for layer in pulled.layers)
    return pulled.manifest_digest


@pytest.fixture
def reg(registry) -> RunningRegistry:
    return registry()


def test_5xx_on_manifest_and_blob_are_retried(reg, tmp_path) -> None:
    digest = seed(reg, tmp_path, "test/img:1")
    with fault_proxy(reg.host) as proxy:
        proxy.faults += [
            Fault("GET", "/manifests/", times=2, status=503),
            Fault("GET", "/blobs/", times=2, status=502),
        ]
        assert pull_through(reg, proxy, tmp_path) == digest
    assert [s for _, _, s in proxy.seen].count(503) == 2


def test_429_retry_after_is_waited_for(reg, tmp_path) -> None:
    digest = seed(reg, tmp_path, "test/img:1")
    with fault_proxy(reg.host) as proxy:
        proxy.faults.append(Fault("GET", "/manifests/", status=429, headers={"Retry-After": "2"}))
        started = time.monotonic()
        assert pull_through(reg, proxy, tmp_path) == digest
        assert time.monotonic() - started >= 2


def test_a_reset_mid_blob_still_gives_the_verified_blob(reg, tmp_path) -> None:
    digest = seed(reg, tmp_path, "test/img:1")
    with fault_proxy(reg.host) as proxy:
        proxy.faults.append(Fault("GET", "/blobs/", times=2, reset_after=1000))
        assert pull_through(reg, proxy, tmp_path) == digest


def test_a_stalled_read_times_out_and_is_retried(reg, tmp_path) -> None:
    digest = seed(reg, tmp_path, "test/img:1")
    with fault_proxy(reg.host) as proxy:
        proxy.faults.append(Fault("GET", "/blobs/", stall=3))
        started = time.monotonic()
        assert pull_through(reg, proxy, tmp_path) == digest
        assert time.monotonic() - started < 3


def test_a_push_that_fails_for_good_leaves_the_old_tag(reg, tmp_path) -> None:
    old = seed(reg, tmp_path, "test/img:1")
    store = BlobStore(tmp_path / "new")
    data, kind = add_image(store, [{"new": b"new\n"}], platform="linux/amd64")
    with fault_proxy(reg.host) as proxy:
        proxy.faults.append(Fault("PATCH", "/blobs/uploads/", times=100, status=500))
        proxy.faults.append(Fault("PUT", "/blobs/uploads/", times=100, status=500))
        with Registries(options(reg, proxy)) as registries, pytest.raises(RegistryError) as failed:
            push_image(f"{proxy.host}/test/img:1", store, data, kind, registries=registries)
        assert not [p for m, p, _ in proxy.seen if m == "PUT" and "/manifests/" in p]
    assert "500" in str(failed.value)
    store2 = BlobStore(tmp_path / "check")
    with Registries(reg.options()) as registries:
        assert (
            pull_image(f"{reg.host}/test/img:1", store2, registries=registries).manifest_digest
            == old
        )


@pytest.mark.parametrize("push_retry", [0, 1])
def test_push_retry_tries_the_whole_push_again(reg, tmp_path, push_retry: int) -> None:
    """Fault: the manifest PUT fails three times, more than one push's own request retries.
    Without --push-retry the build fails and the tag is not there; with it the image lands."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    with fault_proxy(reg.host) as proxy:
        proxy.faults.append(Fault("PUT", "/manifests/", times=3, status=503))
        done = subprocess.run(
            [
                sys.executable, "-m", "pytest_imagebuild", "--context", str(context),
                "--destination", f"{proxy.host}/test/retried:1", "--insecure-registry",
                proxy.host, "--push-retry", str(push_retry),
            ],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "DOCKER_CONFIG": str(reg.docker_config_dir)},
        )  # fmt: skip
    assert done.returncode == (0 if push_retry else 1), done.stderr
    assert "Traceback" not in done.stderr
    store = BlobStore(tmp_path / "check")
    with Registries(reg.options()) as registries:
        if push_retry:
            pull_image(f"{reg.host}/test/retried:1", store, registries=registries)
        else:
            with pytest.raises(RegistryError, match="manifest unknown"):
                pull_image(f"{reg.host}/test/retried:1", store, registries=registries)
