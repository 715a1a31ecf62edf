"""The builder's registry client: references, pulls, pushes, credentials and TLS."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pytest_imagebuild.oci import Platform

from ..blobs import BlobStore
from .client import RegistryClient
from .credentials import Credentials, find_credentials
from .layout import is_layout_source, pull_layout
from .manifests import PulledImage
from .options import RegistryOptions, parse_registry_map
from .platforms import host_platform
from .pool import Registries
from .pull import fetch_blob, pull_image
from .push import blob_exists, check_push_permission, push_image, put_manifest, upload_blob
from .reference import Reference

__all__ = [
    "Credentials",
    "PulledImage",
    "Reference",
    "Registries",
    "RegistryClient",
    "RegistryOptions",
    "blob_exists",
    "check_push_permission",
    "fetch_blob",
    "find_credentials",
    "host_platform",
    "is_layout_source",
    "parse_registry_map",
    "pull",
    "pull_image",
    "pull_layout",
    "push_image",
    "put_manifest",
    "upload_blob",
]


def pull(
    source: str | Path,
    store: BlobStore,
    *,
    registries: Registries,
    platform: Platform | str | None = None,
) -> PulledImage:
    """A base image from a registry reference, ``oci:/layout[:tag]`` or a layout directory."""
    text = str(source)
    if isinstance(source, Path) or is_layout_source(text):
        return pull_layout(text, store, platform=platform)
    if registries.base_lookup is not None:
        wanted = Platform.parse(platform) if isinstance(platform, str) else platform
        warmed = registries.base_lookup(text, str(wanted or host_platform()))
        if warmed is not None:
            pulled = pull_layout(str(warmed), store, platform=platform)
            return replace(pulled, reference=Reference.parse(text), source=f"{text} (warmed)")
    return pull_image(text, store, registries=registries, platform=platform)
