"""OCI image layout directories (kaniko's ``--oci-layout-path``) and image manifests."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_imagebuild import oci

from ..livedirs import live_dir, reap_dead, reap_temp, sync_dir
from .files import TEMP_MARK, atomic_file, link_or_copy

__all__ = ["LayoutLayer", "build_manifest", "write_oci_layout"]

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class LayoutLayer:
    """A layer blob for a manifest or a layout: as stored (maybe compressed)."""

    digest: str
    size: int
    path: Path
    media_type: str = oci.OCI_LAYER


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_manifest(
    config_bytes: bytes,
    layers: Sequence[LayoutLayer],
    *,
    media_type: str = oci.OCI_MANIFEST,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """Canonical manifest bytes (OCI, or Docker v2.2 when ``media_type`` says so)."""
    docker = media_type == oci.DOCKER_MANIFEST
    config_type = oci.DOCKER_CONFIG if docker else oci.OCI_CONFIG
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_type,
            "digest": _digest(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": _layer_type(layer.media_type, docker),
                "digest": layer.digest,
                "size": layer.size,
            }
            for layer in layers
        ],
    }
    if annotations:
        body["annotations"] = dict(annotations)
    return json.dumps(body, separators=(",", ":")).encode()


def _layer_type(media_type: str, docker: bool) -> str:
    if not docker:
        return media_type
    return {
        oci.OCI_LAYER: oci.DOCKER_LAYER,
        oci.OCI_LAYER_GZIP: oci.DOCKER_LAYER_GZIP,
    }.get(media_type, media_type)


def _put_blob(blobs: Path, data: bytes) -> str:
    digest = _digest(data)
    dest = blobs / digest.partition(":")[2]
    if not dest.exists():
        with atomic_file(dest) as fh:
            fh.write(data)
    return digest


def write_oci_layout(
    directory: Path,
    manifest: bytes,
    config: bytes,
    layers: Sequence[LayoutLayer],
    tags: Sequence[str] = (),
    *,
    platform: oci.Platform | None = None,
) -> str:
    """Write (or add to) an OCI layout; returns the manifest digest.

    ``index.json`` is written fresh and last, listing this image once per tag (the tag as
    ``org.opencontainers.image.ref.name``) or once without a name. Layer blobs are hardlinked
    from the blob store when it shares the filesystem, else copied. A new layout is made in
    a live temp directory beside ``directory`` and renamed into place, so the name never
    shows a layout without its ``index.json``; into an existing layout, every blob lands
    under its digest complete (temp name, then rename) before ``index.json`` names it.
    """
    parent, prefix = directory.parent, f".{directory.name}.partial-"
    parent.mkdir(parents=True, exist_ok=True)
    for problem in reap_dead(parent, prefix):  # staging directories of writers that died
        sys.stderr.write(f"imagebuild: could not remove a dead build's files: {problem}\n")
    if directory.exists():
        return _write_into(directory, manifest, config, layers, tags, platform)
    with live_dir(parent, prefix) as work:
        staged = work / "layout"
        digest = _write_into(staged, manifest, config, layers, tags, platform)
        try:
            os.rename(staged, directory)
        except OSError as exc:  # another writer made it meanwhile: add to theirs
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            return _write_into(directory, manifest, config, layers, tags, platform)
        sync_dir(parent)
    return digest


def _write_into(
    directory: Path,
    manifest: bytes,
    config: bytes,
    layers: Sequence[LayoutLayer],
    tags: Sequence[str],
    platform: oci.Platform | None,
) -> str:
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for problem in reap_temp(blobs, f".*{TEMP_MARK}*"):
        sys.stderr.write(f"imagebuild: could not remove a dead build's temp file: {problem}\n")
    for layer in layers:
        link_or_copy(layer.path, blobs / layer.digest.partition(":")[2])
    _put_blob(blobs, config)
    manifest_digest = _put_blob(blobs, manifest)
    media_type = json.loads(manifest).get("mediaType", oci.OCI_MANIFEST)
    entries: list[dict[str, Any]] = []
    names: list[str | None] = list(tags) or [None]
    for tag in names:
        descriptor = oci.Descriptor(
            media_type=media_type,
            digest=manifest_digest,
            size=len(manifest),
            annotations={REF_NAME: tag} if tag else {},
            platform=platform,
        )
        entries.append(descriptor.to_json())
    index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": entries}
    with atomic_file(directory / "oci-layout") as fh:
        fh.write(b'{"imageLayoutVersion":"1.0.0"}')
    with atomic_file(directory / "index.json") as fh:
        fh.write(json.dumps(index, separators=(",", ":")).encode())
    return manifest_digest
