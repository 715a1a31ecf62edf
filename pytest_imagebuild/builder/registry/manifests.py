"""Manifests and indexes: parsing, verifying, choosing a platform; the pulled-image result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_imagebuild.errors import RegistryError
from pytest_imagebuild.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
)

from .platforms import descriptor_from_json, select_manifest
from .reference import Reference

__all__ = [
    "ACCEPT",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "PulledImage",
    "ResolvedManifest",
    "digest_of",
    "parse_manifest",
    "resolve_manifest",
]

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))
MAX_MANIFEST = 4 * 1024 * 1024


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PulledImage:
    """A base image whose manifest, config and layer blobs are all in the BlobStore."""

    reference: Reference | None
    manifest_digest: str
    manifest_media_type: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    config_digest: str
    config_media_type: str
    layers: tuple[Descriptor, ...]
    platform: Platform | None = None
    index_digest: str | None = None
    source: str = ""
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedManifest:
    """The image manifest picked for one platform, and the index it came from, if any."""

    digest: str
    media_type: str
    data: bytes
    manifest: dict[str, Any]
    platform: Platform | None
    index_digest: str | None

    def pulled(
        self,
        config: Any,
        config_desc: Descriptor,
        layers: list[Descriptor],
        *,
        reference: Reference | None,
        source: str,
        platform: Platform | None = None,
    ) -> PulledImage:
        """The pull's result once the config and layer blobs are in the store."""
        return PulledImage(
            reference=reference,
            manifest_digest=self.digest,
            manifest_media_type=self.media_type,
            manifest=self.manifest,
            config=config if isinstance(config, dict) else {},
            config_digest=config_desc.digest,
            config_media_type=config_desc.media_type,
            layers=tuple(layers),
            platform=self.platform or platform,
            index_digest=self.index_digest,
            source=source,
            annotations=dict(self.manifest.get("annotations") or {}),
        )


def parse_manifest(data: bytes, media_type: str, what: str) -> tuple[dict[str, Any], str]:
    """JSON body -> (document, media type); media type from the body when the header lacks it."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise RegistryError(f"manifest of {what} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"manifest of {what} is not a JSON object")
    kind = str(doc.get("mediaType") or "")
    if not kind or media_type.split(";")[0].strip() in INDEX_TYPES | MANIFEST_TYPES:
        kind = media_type.split(";")[0].strip() or kind
    if not kind:
        kind = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if doc.get("schemaVersion") == 1 or "signed" in kind:
        raise RegistryError(
            f"{what} is a Docker schema 1 image, which is not supported",
            hint="push the image again with a current client (schema 2 or OCI)",
        )
    if kind not in INDEX_TYPES | MANIFEST_TYPES:
        raise RegistryError(f"{what} has an unsupported manifest type {kind!r}")
    return doc, kind


def check_digest(data: bytes, expected: str | None, what: str, source: str) -> str:
    digest = digest_of(data)
    if expected is not None and digest != expected:
        raise RegistryError(
            f"digest mismatch for {what}: {source} sent a manifest with digest {digest}, "
            f"expected {expected}",
            hint="the content was changed in storage or in transit; do not trust this source",
        )
    return digest


Fetch = Callable[[str], tuple[bytes, str]]


def resolve_manifest(
    fetch: Fetch,
    identifier: str,
    platform: Platform,
    *,
    what: str,
    source: str,
    expected: str | None = None,
) -> ResolvedManifest:
    """Fetch ``identifier`` and, for an index, the manifest for ``platform``; verify digests."""
    data, header_type = fetch(identifier)
    digest = check_digest(data, expected, what, source)
    doc, kind = parse_manifest(data, header_type, what)
    if kind in MANIFEST_TYPES:
        return ResolvedManifest(digest, kind, data, doc, None, None)
    entries = [descriptor_from_json(m) for m in doc.get("manifests") or []]
    chosen = select_manifest(entries, platform)
    if chosen is None:
        offered = ", ".join(str(e.platform) for e in entries if e.platform) or "none"
        raise RegistryError(
            f"{what} has no image for platform {platform} (it offers: {offered})",
            hint="pick one of the offered platforms with --custom-platform",
        )
    child, child_type = fetch(chosen.digest)
    check_digest(child, chosen.digest, f"{what} ({platform})", source)
    child_doc, child_kind = parse_manifest(child, child_type or chosen.media_type, what)
    if child_kind not in MANIFEST_TYPES:
        raise RegistryError(f"{what}: the entry for {platform} is not an image manifest")
    return ResolvedManifest(chosen.digest, child_kind, child, child_doc, chosen.platform, digest)


def image_descriptors(manifest: dict[str, Any], what: str) -> tuple[Descriptor, list[Descriptor]]:
    """The config descriptor and layer descriptors of an image manifest."""
    try:
        config = descriptor_from_json(manifest["config"])
        layers = [descriptor_from_json(layer) for layer in manifest.get("layers") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"manifest of {what} lacks a valid config or layers: {exc}") from exc
    return config, layers
