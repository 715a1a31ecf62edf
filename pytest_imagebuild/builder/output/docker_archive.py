"""The ``docker save`` tarball (kaniko's ``--tar-path``), loadable by ``docker load``.

Layout: ``manifest.json`` (Config, RepoTags, Layers), the config as ``<hex>.json``, one file per
distinct layer blob named by its digest (``<diffID hex>.tar`` or ``<digest hex>.tar.gz``;
docker detects gzip itself, but Docker 20.10 cannot read zstd, so zstd layers are
decompressed into the archive). No legacy ``repositories`` file: it would need v1 layer IDs,
and every loader since Docker 1.10 reads ``manifest.json``. Layers are streamed
into the archive by the kernel (``copy_file_range``), so memory stays flat. The archive is
written under a temp name and renamed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.errors import UsageError

from ..fs.streams import detect_compression
from ..fs.tarformat import end_of_archive
from .files import atomic_file, tar_bytes, tar_decompressed, tar_file

__all__ = ["ArchiveLayer", "normalize_tag", "write_docker_archive"]

_SUFFIX = {"none": ".tar", "gzip": ".tar.gz"}


@dataclass(frozen=True)
class ArchiveLayer:
    """A layer to put in an archive: its diffID and the blob file (maybe compressed)."""

    diff_id: str
    path: Path
    compressed: bool = False
    digest: str = ""  # the blob's digest when known: a compressed blob is then not re-hashed


def normalize_tag(ref: str) -> str:
    """``name`` -> ``name:latest``; a tag or digest already present is kept."""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last or "@" in ref:
        return ref
    return f"{ref}:latest"


def _layer_name(layer: ArchiveLayer) -> str:
    with open(layer.path, "rb") as fh:
        kind = detect_compression(fh.read(8))
    if kind == "none" or kind == "zstd":
        return layer.diff_id.partition(":")[2] + ".tar"
    if kind not in _SUFFIX:
        raise UsageError(f"layer {layer.path}: unsupported compression {kind}")
    if not layer.compressed:
        raise UsageError(f"layer {layer.path} is {kind}-compressed but was passed as uncompressed")
    if layer.digest.startswith("sha256:"):
        return layer.digest.partition(":")[2] + _SUFFIX[kind]
    digest = hashlib.sha256()
    with open(layer.path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() + _SUFFIX[kind]


def write_docker_archive(
    path: Path,
    config_bytes: bytes,
    layers: Sequence[ArchiveLayer | tuple[str, Path, bool]],
    repo_tags: Sequence[str],
) -> str:
    """Write the archive; returns the image ID (``sha256:`` of the config bytes)."""
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    items = [x if isinstance(x, ArchiveLayer) else ArchiveLayer(*x) for x in layers]
    diff_ids = json.loads(config_bytes).get("rootfs", {}).get("diff_ids", [])
    if diff_ids and diff_ids != [layer.diff_id for layer in items]:
        raise UsageError("the config's rootfs.diff_ids do not match the layers given")
    tags = [normalize_tag(tag) for tag in repo_tags]
    names = [_layer_name(layer) for layer in items]
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": tags, "Layers": names}]
    with atomic_file(path) as out:
        tar_bytes(out, f"{config_hex}.json", config_bytes)
        written: set[str] = set()
        for layer, name in zip(items, names, strict=True):
            if name not in written:
                written.add(name)
                if name.endswith(".tar") and layer.compressed:
                    tar_decompressed(out, name, layer.path)  # docker 20.10 cannot read zstd
                else:
                    tar_file(out, name, layer.path)
        tar_bytes(out, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        out.write(end_of_archive())
    return f"sha256:{config_hex}"
