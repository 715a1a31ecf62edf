"""Pulling: manifest (and index) resolution, then config and layer blobs into the BlobStore."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx

from pytest_imagebuild.errors import ImageBuildError, RegistryError
from pytest_imagebuild.oci import Descriptor, Platform

from ..blobs import BlobStore, BlobWriter
from .client import RegistryClient
from .manifests import (
    ACCEPT,
    MAX_MANIFEST,
    PulledImage,
    digest_of,
    image_descriptors,
    resolve_manifest,
)
from .platforms import host_platform
from .pool import Registries
from .reference import Reference
from .retry import with_retries

__all__ = ["fetch_blob", "fetch_manifest", "pull_image"]

_CHUNK = 1024 * 1024


def fetch_manifest(client: RegistryClient, ref: Reference, identifier: str) -> tuple[bytes, str]:
    """GET a manifest by tag or digest: (body, Content-Type)."""
    resp = client.request(
        "GET",
        f"/v2/{ref.repository}/manifests/{identifier}",
        what=str(ref),
        scopes=[ref.scope("pull")],
        headers={"Accept": ACCEPT},
        stream=True,
    )
    try:
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > MAX_MANIFEST:
                raise RegistryError(f"manifest of {ref} is larger than {MAX_MANIFEST} bytes")
    except httpx.TransportError as exc:
        raise client.transport_error(exc, str(ref)) from exc
    finally:
        resp.close()
    data, answered = bytes(body), resp.headers.get("docker-content-digest")
    if answered and answered.startswith("sha256:") and answered != digest_of(data):
        raise RegistryError(
            f"digest mismatch for {ref}: registry {client.registry} announced manifest "
            f"{answered} but sent content with digest {digest_of(data)}",
            hint="the registry's storage is corrupt or something rewrote the manifest in transit",
        )
    return data, resp.headers.get("content-type", "")


def _mismatch(client: RegistryClient, what: str, desc: Descriptor, got: str) -> RegistryError:
    return RegistryError(
        f"digest mismatch for {what}: registry {client.registry} sent a blob with digest "
        f"{got}, expected {desc.digest}",
        hint="the registry's storage is corrupt or something rewrote the blob in transit",
    )


class _Restart(Exception):
    """The server ignored a Range request: the blob must be received from its first byte."""


def _receive(
    client: RegistryClient, ref: Reference, desc: Descriptor, writer: BlobWriter, failures: int
) -> int:
    """GET the blob into ``writer``, resuming with Range after a broken or stalled read.

    Returns the failures counted so far; raises _Restart when a resume is impossible.
    """
    what = f"blob {desc.digest} of {ref}"
    resumable = False
    while True:
        headers = {"Range": f"bytes={writer.size}-"} if writer.size else {}
        resp = client.request(
            "GET",
            f"/v2/{ref.repository}/blobs/{desc.digest}",
            what=what,
            scopes=[ref.scope("pull")],
            headers=headers,
            stream=True,
            ok=(200, 206),
        )
        try:
            if writer.size and not resp.headers.get("content-range", "").startswith(
                f"bytes {writer.size}-"
            ):
                raise _Restart()
            resumable = resumable or resp.headers.get("accept-ranges") == "bytes"
            for chunk in resp.iter_bytes(_CHUNK):
                writer.write(chunk)
                if desc.size and writer.size > desc.size:
                    raise _mismatch(client, what, desc, f"(more than {desc.size} bytes)")
            return failures
        except httpx.TransportError as exc:
            failures += 1
            if failures > client.options.retries:
                err = client.transport_error(exc, what, tries=failures)
                err.repository, err.operation = ref.repository, "GET blob"
                raise err from exc
            client.backoff.wait(failures - 1)
            if not resumable:
                raise _Restart() from exc
        finally:
            resp.close()


def fetch_blob(client: RegistryClient, ref: Reference, desc: Descriptor, store: BlobStore) -> Path:
    """Stream one blob into ``store`` verifying its digest; skipped when already present.

    A download that breaks or stalls resumes from the bytes it has (Range) where the registry
    accepts ranges, else starts over; either way the whole blob's digest is checked.
    """
    if store.has(desc.digest):
        return store.path(desc.digest)
    failures = 0
    while True:
        writer: BlobWriter | None = None
        try:
            with store.writer(expected=desc.digest) as writer:
                failures = _receive(client, ref, desc, writer, failures)
            return store.path(desc.digest)
        except _Restart:
            failures = max(failures, 1)
            continue
        except ValueError as exc:
            got = writer.digest if writer is not None else "?"
            raise _mismatch(client, f"blob {desc.digest} of {ref}", desc, got) from exc


def _pull_from(
    client: RegistryClient, ref: Reference, store: BlobStore, platform: Platform
) -> PulledImage:
    source = f"registry {client.registry}"
    resolved = resolve_manifest(
        lambda ident: fetch_manifest(client, ref, ident),
        ref.identifier,
        platform,
        what=str(ref),
        source=source,
        expected=ref.digest,
    )
    config_desc, layers = image_descriptors(resolved.manifest, str(ref))
    store.write_bytes(resolved.data)
    config_path = fetch_blob(client, ref, config_desc, store)
    try:
        config = json.loads(config_path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise RegistryError(f"config blob {config_desc.digest} of {ref} is not JSON") from exc
    for layer in layers:
        fetch_blob(client, ref, layer, store)
    return resolved.pulled(config, config_desc, layers, reference=ref, source=str(ref))


def _mirror_ref(ref: Reference, mirror: str) -> Reference:
    host, _, prefix = mirror.partition("/")
    repo = f"{prefix.strip('/')}/{ref.repository}" if prefix.strip("/") else ref.repository
    return Reference(host, repo, ref.tag, ref.digest)


def pull_image(
    ref: Reference | str,
    store: BlobStore,
    *,
    registries: Registries,
    platform: Platform | str | None = None,
) -> PulledImage:
    """Pull ``ref`` for ``platform`` (default: the host's), trying registry mirrors first."""
    if isinstance(ref, str):
        ref = Reference.parse(ref)
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    wanted = wanted or host_platform()
    errors: list[ImageBuildError] = []
    for mirror in registries.options.mirrors_for(ref.registry):
        mref = _mirror_ref(ref, mirror)
        try:
            pulled = _pull_from(registries.client(mref.registry), mref, store, wanted)
        except ImageBuildError as exc:
            errors.append(exc)
            continue
        return replace(pulled, reference=ref, source=str(mref))
    if errors and registries.options.skip_default_registry_fallback:
        raise RegistryError(
            f"no mirror has {ref}: " + "; ".join(e.message for e in errors),
            hint="drop --skip-default-registry-fallback to fall back to the registry itself",
        )
    client = registries.client(ref.registry)
    return with_retries(
        lambda: _pull_from(client, ref, store, wanted),
        registries.options.pull_retries,
        client.backoff,
        f"pull of {ref}",
        "--image-download-retry",
    )
