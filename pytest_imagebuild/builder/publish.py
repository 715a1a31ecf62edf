"""Outputs of a finished build: docker-archive tarball, OCI layout, push, digest files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder import registry
from pytest_imagebuild.builder.assemble import config_bytes, layout_layers, manifest_bytes
from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.cache import CacheStats
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.output import (
    ArchiveLayer,
    write_digest_file,
    write_docker_archive,
    write_name_tag_with_digest_file,
    write_name_with_digest_file,
    write_oci_layout,
)
from pytest_imagebuild.builder.steps.state import StageState
from pytest_imagebuild.oci import Platform

__all__ = ["UNSET_NAME", "BuildResult", "publish"]

UNSET_NAME = "unset-repo/unset-image-name:latest"


@dataclass(frozen=True)
class BuildResult:
    """What a build produced."""

    image_id: str
    manifest_digest: str
    manifest_media_type: str
    config: bytes
    tar_path: Path | None
    oci_layout_path: Path | None
    stages: tuple[str, ...]
    layers: int
    pushed: tuple[str, ...] = ()
    cache_stats: CacheStats | None = None  # with --cache: hits, misses, stored, pushed
    skipped: tuple[str, ...] = ()  # what unpacking could not apply, one line per kind


def publish(
    options: BuildOptions,
    state: StageState,
    created: str,
    stages: tuple[str, ...],
    store: BlobStore,
    registries: registry.Registries,
) -> BuildResult:
    """Write every requested output for the final stage; returns the result."""
    config = config_bytes(state, created)
    manifest, media_type = manifest_bytes(state, config)
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    if options.tar_path is not None:
        tags = list(options.destinations) or [UNSET_NAME]
        layers = [
            ArchiveLayer(layer.diff_id, layer.path, layer.compressed, layer.digest)
            for layer in state.layers
        ]
        write_docker_archive(options.tar_path, config, layers, tags)  # temp name, then rename
    if options.oci_layout_path is not None:
        plat = Platform(state.os, state.architecture, state.variant)
        write_oci_layout(
            options.oci_layout_path,
            manifest,
            config,
            layout_layers(state.layers),
            list(options.destinations),
            platform=plat,
        )
    pushed: list[str] = []
    if options.destinations and not options.no_push:
        store.write_bytes(config)
        for dest in options.destinations:
            registry.push_image(dest, store, manifest, media_type, registries=registries)
            pushed.append(dest)
    if options.digest_file is not None:
        write_digest_file(options.digest_file, digest)
    if options.image_name_tag_with_digest_file is not None and options.destinations:
        write_name_tag_with_digest_file(
            options.image_name_tag_with_digest_file, list(options.destinations), digest
        )
    if options.image_name_with_digest_file is not None and options.destinations:
        write_name_with_digest_file(
            options.image_name_with_digest_file, list(options.destinations), digest
        )
    return BuildResult(
        image_id=image_id,
        manifest_digest=digest,
        manifest_media_type=media_type,
        config=config,
        tar_path=options.tar_path,
        oci_layout_path=options.oci_layout_path,
        stages=stages,
        layers=len(state.layers),
        pushed=tuple(pushed),
    )
