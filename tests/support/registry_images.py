"""Small images made from scratch into a BlobStore, for registry and pull tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    Platform,
)


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of regular files (parents added as directories)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted(
            {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
        )
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """(gzip blob, diff id) for a layer holding ``files``."""
    raw = tar_bytes(files)
    return gzip.compress(raw, mtime=0), _sha(raw)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add_image(
    store: BlobStore,
    layers: list[dict[str, bytes]],
    *,
    platform: str = "linux/amd64",
    docker: bool = False,
    config_extra: dict[str, Any] | None = None,
) -> tuple[bytes, str]:
    """Write layers, config and manifest into ``store``: (manifest bytes, media type)."""
    plat = Platform.parse(platform)
    layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
    descs, diff_ids = [], []
    for files in layers:
        blob, diff_id = gzip_layer(files)
        descs.append(Descriptor(layer_type, store.write_bytes(blob), len(blob)))
        diff_ids.append(diff_id)
    config: dict[str, Any] = {
        "architecture": plat.architecture,
        "os": plat.os,
        "config": {"Env": ["PATH=/usr/bin:/bin"], **(config_extra or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test layer"} for _ in layers],
    }
    if plat.variant:
        config["variant"] = plat.variant
    config_bytes = json.dumps(config).encode()
    config_desc = Descriptor(
        DOCKER_CONFIG if docker else OCI_CONFIG, store.write_bytes(config_bytes), len(config_bytes)
    )
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_desc.to_json(),
        "layers": [d.to_json() for d in descs],
    }
    data = json.dumps(manifest).encode()
    store.write_bytes(data)
    return data, media_type


def add_index(
    store: BlobStore, images: list[tuple[bytes, str, str]], *, docker: bool = False
) -> tuple[bytes, str]:
    """An index (or Docker manifest list) over (manifest, media type, platform) entries."""
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    entries = [
        Descriptor(kind, _sha(data), len(data), platform=Platform.parse(plat)).to_json()
        for data, kind, plat in images
    ]
    data = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}).encode()
    store.write_bytes(data)
    return data, media_type
