"""Shared caches: ``--cache-repo REPO`` in a registry, or ``oci:/dir`` on disk.

Each cached step is a one-image entry named by its key, as kaniko keeps it: a manifest with
the step's one layer (or none, for a step that changed no file), tagged ``REPO:<key>`` in a
registry or stored as the OCI layout ``<dir>/<key>/``. The image config is an ordinary one
(``created``, ``rootfs``, ``history``) plus the entry itself under ``imagebuild.cache``.
Everything read back is verified: blobs by digest, the entry by format and key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pytest_imagebuild import oci
from pytest_imagebuild.errors import ImageFormatError, RegistryError, UsageError

from ..blobs import BlobStore
from ..output.oci_layout import LayoutLayer, build_manifest, write_oci_layout
from ..registry import Reference, Registries, fetch_blob, pull_layout, push_image
from ..registry.manifests import (
    ACCEPT,
    MAX_MANIFEST,
    digest_of,
    image_descriptors,
    parse_manifest,
)
from .entry import CachedStep, EntryError
from .keys import StepKey

__all__ = ["LayoutCache", "RegistryCache", "RemoteCache", "default_cache_repo", "open_remote"]

ENTRY_FIELD = "imagebuild.cache"


class RemoteCache(Protocol):
    """A shared cache. ``fetch`` answers None for a miss and raises ImageBuildError or
    OSError when the cache cannot be read; ``push`` raises the same when it cannot write."""

    name: str

    def fetch(self, key: StepKey, store: BlobStore) -> CachedStep | None: ...

    def push(self, key: StepKey, step: CachedStep, store: BlobStore) -> None: ...


def _image(
    key: StepKey, step: CachedStep, platform: oci.Platform, store: BlobStore
) -> tuple[bytes, bytes, list[LayoutLayer], str]:
    """(manifest, config, layers, manifest media type) of the entry image."""
    created = datetime.fromtimestamp(step.created, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    history = dict(step.history)
    layers: list[LayoutLayer] = []
    if step.layer is None:
        history["empty_layer"] = True
    else:
        path = store.path(step.layer.digest)
        layers.append(LayoutLayer(step.layer.digest, step.layer.size, path, step.layer.media_type))
    doc: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created,
        "config": dict(step.config or {}),
        "rootfs": {"type": "layers", "diff_ids": [step.layer.diff_id] if step.layer else []},
        "history": [history],
        ENTRY_FIELD: step.to_json(key),
    }
    if platform.variant:
        doc["variant"] = platform.variant
    config = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    docker = step.layer is not None and step.layer.media_type.startswith("application/vnd.docker")
    kind = oci.DOCKER_MANIFEST if docker else oci.OCI_MANIFEST
    return build_manifest(config, layers, media_type=kind), config, layers, kind


def _entry(config: Any, key: StepKey, layers: list[oci.Descriptor], where: str) -> CachedStep:
    try:
        step = CachedStep.from_json(
            config.get(ENTRY_FIELD) if isinstance(config, dict) else None, key
        )
    except EntryError as exc:
        raise ImageFormatError(f"cache entry {key} in {where} is not usable: {exc}") from exc
    expected = [step.layer.digest] if step.layer is not None else []
    if [layer.digest for layer in layers] != expected:
        raise ImageFormatError(f"cache entry {key} in {where}: layers do not match the entry")
    return step


class RegistryCache:
    """``--cache-repo`` in a registry: the entry for KEY is the image ``REPO:KEY``."""

    def __init__(self, repo: str, registries: Registries, *, platform: oci.Platform) -> None:
        ref = Reference.parse(repo.rstrip("/"), default_tag=False)
        if ref.tag or ref.digest:
            raise UsageError(
                f"--cache-repo {repo!r} names a tag or digest",
                hint="give a repository only, e.g. registry.example.com/app/cache",
            )
        self.ref = ref
        self.name = ref.name
        self.registries = registries
        self.platform = platform

    def fetch(self, key: StepKey, store: BlobStore) -> CachedStep | None:
        ref = self.ref.with_tag(key.tag)
        client = self.registries.client(ref.registry)
        resp = client.request(
            "GET",
            f"/v2/{ref.repository}/manifests/{key.tag}",
            what=str(ref),
            scopes=[ref.scope("pull")],
            headers={"Accept": ACCEPT},
            ok=(200, 404),
        )
        if resp.status_code == 404:
            return None
        if len(resp.content) > MAX_MANIFEST:
            raise RegistryError(f"cache manifest {ref} is larger than {MAX_MANIFEST} bytes")
        announced = resp.headers.get("docker-content-digest")
        if announced and announced != digest_of(resp.content):
            raise RegistryError(f"digest mismatch for cache manifest {ref}")
        doc, _ = parse_manifest(resp.content, resp.headers.get("content-type", ""), str(ref))
        config_desc, layers = image_descriptors(doc, str(ref))
        config_path = fetch_blob(client, ref, config_desc, store)
        try:
            config = json.loads(config_path.read_bytes())
        except ValueError as exc:
            raise RegistryError(f"config of cache entry {ref} is not JSON") from exc
        step = _entry(config, key, layers, self.name)
        for layer in layers:
            fetch_blob(client, ref, layer, store)
        return step

    def push(self, key: StepKey, step: CachedStep, store: BlobStore) -> None:
        manifest, config, _, kind = _image(key, step, self.platform, store)
        store.write_bytes(config)
        push_image(self.ref.with_tag(key.tag), store, manifest, kind, registries=self.registries)


class LayoutCache:
    """``--cache-repo oci:/dir``: the entry for KEY is the OCI layout ``/dir/KEY/``."""

    def __init__(self, directory: Path, *, platform: oci.Platform) -> None:
        self.directory = directory
        self.name = f"oci:{directory}"
        self.platform = platform

    def fetch(self, key: StepKey, store: BlobStore) -> CachedStep | None:
        layout = self.directory / key.hex
        if not (layout / "index.json").is_file():
            return None
        pulled = pull_layout(str(layout), store, platform=self.platform)
        return _entry(pulled.config, key, list(pulled.layers), self.name)

    def push(self, key: StepKey, step: CachedStep, store: BlobStore) -> None:
        final = self.directory / key.hex
        if (final / "index.json").is_file():
            return
        manifest, config, layers, _ = _image(key, step, self.platform, store)
        # staged in a live directory beside it and renamed: a killed push leaves no layout
        # without its index.json, and its staging directory is reaped by the next push
        write_oci_layout(final, manifest, config, layers, [key.tag], platform=self.platform)


def open_remote(repo: str, *, registries: Registries | None, platform: oci.Platform) -> RemoteCache:
    """``oci:/dir`` -> LayoutCache; anything else is a registry repository."""
    if repo.startswith("oci:"):
        return LayoutCache(Path(repo.removeprefix("oci:")), platform=platform)
    return RegistryCache(repo, registries or Registries(), platform=platform)


def default_cache_repo(destination: str) -> str:
    """kaniko's inferred cache repository: ``<repository of the first destination>/cache``."""
    return Reference.parse(destination).name + "/cache"
