"""Crash consistency: ``imagebuild`` SIGKILLed at seeded random moments of a real build (base
pulled from a loopback registry, a RUN that sleeps and writes a 16 MB layer, cache store,
output write) leaves no output, cache entry or temp state that a later run trusts or keeps."""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Callable
from pathlib import Path

from pytest_imagebuild.builder.cache import LocalCache, StepKey
from tests.builder.build_support import write_tree
from tests.builder.crash_support import (
    content_digest,
    descendants_named,
    finish,
    imagebuild,
    leftovers,
    mounts_under,
    push_base,
    stop_in_phase,
    wait_gone,
)
from tests.support.registry import RegistryFactory

DOCKERFILE = """FROM {base}
RUN sleep 1 && dd if=/dev/zero of=/big bs=1M count=16 2>/dev/null && echo one > /one
RUN echo two > /two
"""
PHASES = ("pull", "run", "store", "output")


class Phases:
    """Predicates for "the build is in phase X now", from what it leaves on disk and in /proc."""

    def __init__(self, pid: int, builds: Path, cache: Path, out: Path) -> None:
        self.pid, self.builds, self.cache, self.out = pid, builds, cache, out
        self.slept = False

    def pull(self) -> bool:  # the first pulled blob is being written into the build's store
        return any(self.builds.glob("imagebuild-*/store/blobs/sha256/*"))

    def run(self) -> bool:  # the RUN's sleep is running in the sandbox
        return bool(descendants_named(self.pid, "sleep"))

    def store(self) -> bool:  # the sleep is over: the layer is written, then stored
        if self.run():
            self.slept = True
            return False
        return self.slept

    def output(self) -> bool:  # the output's temp file or staging directory exists
        return any(self.out.parent.glob(f".{self.out.name}.*"))


DELAYS = {"pull": 0.02, "run": 0.8, "store": 0.2, "output": 0.01}


def _args(context: Path, kind: str, out: Path, cache: Path, builds: Path) -> list[str | Path]:
    flag = "--tar-path" if kind == "tar" else "--oci-layout-path"
    return [
        "-c", context, "--no-push", flag, out, "--cache", "--cache-dir", cache,
        "--build-root", builds,
    ]  # fmt: skip


def _untrustworthy(cache: Path) -> list[str]:
    """Entries the cache would serve whose blob does not hash to the digest they name."""
    if not cache.exists():
        return []
    local = LocalCache(cache)
    bad = []
    for entry in cache.glob("entries/*/*.json"):
        step = local.get(StepKey(entry.stem))
        if step is not None and step.layer is not None:
            blob = local.blobs.path(step.layer.digest).read_bytes()
            if "sha256:" + hashlib.sha256(blob).hexdigest() != step.layer.digest:
                bad.append(entry.stem)
    return bad


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


CASES = [("tar", phase) for phase in PHASES] + [("oci", "output")]  # only output differs
NAMES = {"tar": "image.tar", "oci": "layout"}


def test_killed_build_leaves_nothing_a_rebuild_trusts(
    registry: RegistryFactory, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """Fault: SIGKILL of the ``imagebuild`` process at a seeded random moment within each
    phase (base pull, RUN, layer write and cache store, output write), with a tarball
    output, and within the output phase with an OCI layout output. Must hold after each
    kill: the output's final name is absent or a complete image equal in content to a clean
    build's; every cache entry a lookup trusts names a blob that hashes to its digest; no
    process of the build survives; a rebuild with the same cache directory succeeds with
    the same content (its layers verified against their digests); after it no temp file,
    staging or build directory, liveness lock or mount remains."""
    reg = registry()
    base = push_base(reg, busybox_rootfs, tmp_path / "base")
    context = write_tree(tmp_path / "ctx", {"Dockerfile": DOCKERFILE.format(base=base)})
    builds, out_dir = tmp_path / "builds", tmp_path / "out"
    clean = tmp_path / "clean"
    finish(
        imagebuild(
            *_args(context, "tar", clean / "image.tar", tmp_path / "clean-cache", builds),
            "--oci-layout-path",
            clean / "layout",
        )
    )
    expected = {kind: content_digest(clean / NAMES[kind]) for kind in NAMES}
    assert expected["tar"] == expected["oci"]
    hit = []
    for kind, phase in CASES:
        rng = random.Random(f"{kind}-{phase}")
        cache = tmp_path / f"cache-{kind}-{phase}"  # the kill and the rebuild share it
        out = out_dir / NAMES[kind]
        for name in NAMES.values():
            _remove(out_dir / name)
        proc = imagebuild(*_args(context, kind, out, cache, builds))
        started: Callable[[], bool] = getattr(Phases(proc.pid, builds, cache, out), phase)
        if stop_in_phase(proc, started, rng.uniform(0, DELAYS[phase])):
            hit.append((kind, phase))
        else:
            finish(proc)
        where = f"{kind}, killed in {phase}"
        assert wait_gone(proc.pid) == [], f"{where}: processes of the killed build survive"
        if out.exists():
            assert content_digest(out) == expected[kind], f"{where}: a partial output"
        assert _untrustworthy(cache) == [], f"{where}: trusted entries with broken blobs"
        finish(imagebuild(*_args(context, kind, out, cache, builds)))
        assert content_digest(out) == expected[kind], where
        assert leftovers(out_dir, cache, builds) == [], where
        assert [p.name for p in out_dir.iterdir()] == [out.name], where
        assert list(builds.iterdir()) == [], where
        assert mounts_under(tmp_path) == [], where
    assert hit == CASES, f"the kills that landed in their phase: {hit}"
