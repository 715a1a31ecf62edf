"""``imagebuild warm`` (kaniko's warmer) on a real registry, and builds that take their base
from the warmed cache with the registry stopped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.builder.test_cli import imagebuild
from tests.support.registry import RegistryFactory, RunningRegistry


@pytest.fixture
def served(
    registry: RegistryFactory, busybox_rootfs: Path, tmp_path: Path
) -> tuple[RunningRegistry, str, dict[str, str]]:
    """The busybox base pushed as ``base:1`` to a registry with basic auth."""
    reg = registry(auth="basic")
    layout = make_base(busybox_rootfs, tmp_path / "base")[1]
    seed = write_tree(tmp_path / "seed", {"Dockerfile": f"FROM oci:{layout}\n"})
    env = {"DOCKER_CONFIG": str(reg.docker_config_dir)}
    pushed = imagebuild("-c", seed, "-d", f"{reg.host}/base:1", env=env)
    assert pushed.returncode == 0, pushed.stderr
    return reg, f"{reg.host}/base:1", env


def _app(tmp_path: Path, base: str) -> Path:
    return write_tree(tmp_path / "app", {"Dockerfile": f"FROM {base}\nRUN echo app > /app\n"})


def test_a_warmed_base_builds_with_the_registry_down(
    served: tuple[RunningRegistry, str, dict[str, str]], tmp_path: Path
) -> None:
    reg, ref, env = served
    cache = tmp_path / "cache"
    warmed = imagebuild("warm", "--image", ref, "--cache-dir", cache, "--log-format", "plain",
                        env=env)  # fmt: skip
    assert warmed.returncode == 0, warmed.stderr
    assert f"{ref}: warmed sha256:" in warmed.stderr
    (entry,) = [p for p in (cache / "bases").iterdir() if not p.name.startswith(".")]
    index = json.loads((entry / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": ref}
    reg.stop()
    ctx = _app(tmp_path, ref)
    out = tmp_path / "out.tar"
    args = ("-c", ctx, "--no-push", "--tar-path", out, "--log-format", "plain")
    offline = imagebuild(*args, "--cache", "--cache-dir", cache, env=env)
    assert offline.returncode == 0, offline.stderr
    with Image.open(out) as image:
        assert image.file("/app").read_text() == "app\n"
        assert "/bin/busybox" in image
    without_cache = imagebuild(*args, env=env)  # the registry is down: no base
    assert without_cache.returncode == 1
    assert reg.host in without_cache.stderr


def test_stale_entries_are_not_used_and_fresh_ones_kept(
    served: tuple[RunningRegistry, str, dict[str, str]], tmp_path: Path
) -> None:
    reg, ref, env = served
    cache = tmp_path / "cache"
    assert imagebuild("warm", "-i", ref, "-c", cache, env=env).returncode == 0
    (entry,) = [p for p in (cache / "bases").iterdir() if not p.name.startswith(".")]
    again = imagebuild("warm", "-i", ref, "-c", cache, "--log-format", "plain", env=env)
    assert f"{ref}: already in the cache, kept" in again.stderr
    old = (entry / "index.json").stat().st_mtime - 3600
    os.utime(entry / "index.json", (old, old))
    forced = imagebuild("warm", "-i", ref, "-c", cache, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert (entry / "index.json").stat().st_mtime > old + 1800
    os.utime(entry / "index.json", (old, old))
    reg.stop()
    ctx = _app(tmp_path, ref)
    stale = imagebuild(
        "-c", ctx, "--no-push", "--cache", "--cache-dir", cache, "--cache-ttl", "30m", env=env
    )
    assert stale.returncode == 1  # an hour old with a 30 minute TTL: the registry is asked
    fresh = imagebuild(
        "-c", ctx, "--no-push", "--cache", "--cache-dir", cache, "--cache-ttl", "2h", env=env
    )
    assert fresh.returncode == 0, fresh.stderr


def test_tampered_cache_is_an_error_not_a_base(
    served: tuple[RunningRegistry, str, dict[str, str]], tmp_path: Path
) -> None:
    _, ref, env = served
    cache = tmp_path / "cache"
    assert imagebuild("warm", "-i", ref, "-c", cache, env=env).returncode == 0
    blobs = sorted((cache / "bases").glob("*/blobs/sha256/*"), key=lambda p: p.stat().st_size)
    biggest = blobs[-1]
    data = bytearray(biggest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    biggest.write_bytes(bytes(data))
    proc = imagebuild("-c", _app(tmp_path, ref), "--no-push", "--cache", "--cache-dir", cache,
                      "--log-format", "plain", env=env)  # fmt: skip
    assert proc.returncode == 1
    assert biggest.name in proc.stderr


def test_dockerfile_bases_and_partial_failure(
    served: tuple[RunningRegistry, str, dict[str, str]], tmp_path: Path
) -> None:
    reg, ref, env = served
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"ARG REG\nFROM ${{REG}}/base:1 AS one\nFROM one\nFROM scratch\nFROM {reg.host}/nope:1\n"
    )
    cache = tmp_path / "cache"
    proc = imagebuild("warm", "--dockerfile", dockerfile, "--build-arg", f"REG={reg.host}",
                      "-c", cache, "--log-format", "plain", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # kaniko's rule: fails only when all fail
    assert f"{ref}: warmed" in proc.stderr
    assert f"{reg.host}/nope:1: " in proc.stderr
    entries = [p for p in (cache / "bases").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    none = imagebuild("warm", "-i", f"{reg.host}/nope:1", "-c", cache, env=env)
    assert none.returncode == 1
    assert "no image could be fetched" in none.stderr
    usage = imagebuild("warm", "-c", cache)
    assert usage.returncode == 2
    assert "nothing to fetch" in usage.stderr
