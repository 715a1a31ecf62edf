"""Helpers for the layer-cache tests: real layer blobs, and workers for other processes."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import signal
import tarfile
import time
from pathlib import Path

from pytest_imagebuild import oci
from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.cache import (
    CachedLayer,
    CachedStep,
    ContextHasher,
    LocalCache,
    StepKey,
    base_key,
    step_key,
)


def layer_tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def make_layer(store: BlobStore, files: dict[str, bytes], *, gz: bool = False) -> CachedLayer:
    """A real layer blob in ``store`` (gzip'd or plain tar) and its descriptor."""
    tar = layer_tar(files)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    blob = gzip.compress(tar, mtime=0) if gz else tar
    digest = store.write_bytes(blob)
    media_type = oci.OCI_LAYER_GZIP if gz else oci.DOCKER_LAYER
    return CachedLayer(digest, diff_id, len(blob), media_type)


def run_step(text: str, layer: CachedLayer | None, created: float = 0.0) -> CachedStep:
    history = {"created_by": f"/bin/sh -c {text}", "author": "test"}
    return CachedStep(layer, history, None, created)


def sample_key(context: str, sources: list[str]) -> str:
    """A COPY key computed from scratch in whatever process runs this."""
    digest = ContextHasher(Path(context)).digest(sources)
    parent = base_key("sha256:" + "a" * 64, "linux/amd64")
    key = step_key(
        parent,
        "COPY app/ /srv/app/",
        platform="linux/amd64",
        args={"VERSION": "1"},
        env=["PATH=/bin", "HOME=/root"],
        inputs={"src": digest},
    )
    return key.hex


def store_worker(root: str, key_hex: str, seed: int) -> str:
    """Store one entry for ``key_hex`` with a layer of its own; returns the layer digest."""
    cache = LocalCache(Path(root))
    scratch = BlobStore(Path(root) / f"scratch-{seed}")
    layer = make_layer(scratch, {f"f{seed}": os.urandom(64 * 1024)})
    time.sleep(0.01 * (seed % 3))
    cache.put(StepKey(key_hex), run_step(f"echo {seed}", layer), source=scratch)
    return layer.digest


def slow_blob_worker(root: str, marker: str) -> None:
    """Start streaming a blob into the cache, say so, then wait to be killed mid-write."""
    cache = LocalCache(Path(root))
    with cache.blobs.writer() as writer:
        writer.write(os.urandom(256 * 1024))
        Path(marker).write_text("writing")
        time.sleep(60)
    os.kill(os.getpid(), signal.SIGTERM)  # pragma: no cover - killed before this


def lock_holder_worker(root: str, key_hex: str, marker: str) -> None:
    """Take the key's lock, say so, then wait to be killed while holding it."""
    cache = LocalCache(Path(root))
    with cache.lock(StepKey(key_hex)):
        Path(marker).write_text("locked")
        time.sleep(60)
