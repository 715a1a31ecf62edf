"""Pushing: blob uploads (mount, monolithic or chunked), manifests and tags, permission check."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urljoin

import httpx

from pytest_imagebuild.errors import RegistryError

from ..blobs import BlobStore
from .client import RegistryClient
from .manifests import INDEX_TYPES, digest_of, image_descriptors, parse_manifest
from .platforms import descriptor_from_json
from .pool import Registries
from .reference import Reference
from .retry import is_transient, with_retries

__all__ = ["blob_exists", "check_push_permission", "push_image", "put_manifest", "upload_blob"]

_READ = 1024 * 1024


def _reader(path: Path, start: int, length: int) -> Callable[[], Iterator[bytes]]:
    """A body that streams ``length`` bytes from ``start`` anew each time it is sent."""
    return lambda: _read_range(path, start, length)


def _read_range(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            data = fh.read(min(_READ, left))
            if not data:
                raise RegistryError(f"blob file {path} is shorter than expected")
            left -= len(data)
            yield data


def blob_exists(client: RegistryClient, ref: Reference, digest: str) -> bool:
    """HEAD the blob in ``ref``'s repository."""
    resp = client.request(
        "HEAD",
        f"/v2/{ref.repository}/blobs/{digest}",
        what=f"blob {digest} in {ref.name}",
        scopes=[ref.scope("pull,push")],
        ok=(200, 404),
    )
    return resp.status_code == 200


def _location(client: RegistryClient, resp: httpx.Response, what: str) -> str:
    location = str(resp.headers.get("location") or "")
    if not location:
        raise RegistryError(f"registry {client.registry} gave no upload Location for {what}")
    return urljoin(client.base_url + "/", location)


def _start_upload(
    client: RegistryClient, ref: Reference, digest: str, mount_from: Sequence[Reference]
) -> str | None:
    """POST an upload; a successful cross-repository mount returns None (nothing to send)."""
    what = f"blob {digest} to {ref.name}"
    for source in mount_from:
        if source.registry != ref.registry or source.repository == ref.repository:
            continue
        resp = client.request(
            "POST",
            f"/v2/{ref.repository}/blobs/uploads/",
            what=what,
            scopes=[ref.scope("pull,push"), source.scope("pull")],
            params={"mount": digest, "from": source.repository},
            ok=(201, 202),
        )
        if resp.status_code == 201:
            return None
        return _location(client, resp, what)
    resp = client.request(
        "POST",
        f"/v2/{ref.repository}/blobs/uploads/",
        what=what,
        scopes=[ref.scope("pull,push")],
        ok=(202,),
    )
    return _location(client, resp, what)


def _send_blob(
    client: RegistryClient, ref: Reference, location: str, path: Path, digest: str, size: int
) -> bool:
    """PATCH/PUT the blob; True when the registry's answer confirms the digest it stored."""
    what = f"blob {digest} to {ref.name}"
    scopes = [ref.scope("pull,push")]
    chunk = client.options.chunk_size
    if chunk:
        start = 0
        while start < size:
            length = min(chunk, size - start)
            resp = client.request(
                "PATCH",
                location,
                what=what,
                scopes=scopes,
                retry=False,
                ok=(202,),
                content=_reader(path, start, length),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(length),
                    "Content-Range": f"{start}-{start + length - 1}",
                },
            )
            location = _location(client, resp, what)
            start += length
        body: Callable[[], Iterator[bytes]] | bytes = b""
        length = 0
    else:
        body, length = _reader(path, 0, size), size
    url = str(httpx.URL(location).copy_merge_params({"digest": digest}))
    resp = client.request(
        "PUT",
        url,
        what=what,
        scopes=scopes,
        retry=False,
        ok=(201, 204),
        content=body,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
    )
    return str(resp.headers.get("docker-content-digest", "")) == digest


def upload_blob(
    client: RegistryClient,
    ref: Reference,
    store: BlobStore,
    digest: str,
    *,
    mount_from: Sequence[Reference] = (),
) -> None:
    """Make ``digest`` exist in ``ref``'s repository: skip, mount, or stream it from ``store``.

    An upload that fails on a transient fault starts over from the POST (an upload session
    may be gone). The blob is known present when this returns: the registry confirmed its
    digest, or a HEAD found it.
    """
    if blob_exists(client, ref, digest):
        return
    path = store.path(digest)
    if not path.is_file():
        raise RegistryError(f"cannot push blob {digest} to {ref}: it is not in {store.root}")
    size = path.stat().st_size
    retries = client.options.retries
    for attempt in range(retries + 1):
        try:
            location = _start_upload(client, ref, digest, mount_from)
            confirmed = location is None or _send_blob(client, ref, location, path, digest, size)
            break
        except RegistryError as exc:
            if attempt == retries or not is_transient(exc):
                raise
            client.backoff.wait(attempt)
            if blob_exists(client, ref, digest):
                return
    if not confirmed and not blob_exists(client, ref, digest):
        raise RegistryError(
            f"registry {client.registry} accepted blob {digest} for {ref.name} but does not "
            "have it; the manifest was not pushed",
            hint="the registry or a proxy in front of it lost the upload; push again",
            registry=client.registry,
            repository=ref.repository,
            operation="HEAD blob",
            status=404,
        )


def put_manifest(client: RegistryClient, ref: Reference, data: bytes, media_type: str) -> str:
    """PUT a manifest under ``ref``'s tag (or its digest when untagged); returns the digest."""
    digest = digest_of(data)
    identifier = ref.tag or ref.digest or digest
    resp = client.request(
        "PUT",
        f"/v2/{ref.repository}/manifests/{identifier}",
        what=str(ref),
        scopes=[ref.scope("pull,push")],
        content=data,
        ok=(200, 201),
        headers={"Content-Type": media_type},
    )
    answered = resp.headers.get("docker-content-digest")
    if answered and answered != digest:
        raise RegistryError(
            f"registry {client.registry} stored the manifest of {ref} as {answered}, "
            f"expected {digest}"
        )
    return digest


def push_image(
    ref: Reference | str,
    store: BlobStore,
    manifest: bytes,
    media_type: str,
    *,
    registries: Registries,
    mount_from: Sequence[Reference] = (),
) -> str:
    """Push an image (or an index and its images) whose blobs are in ``store``; returns digest.

    Config and layers come from the manifest; for an index, child manifests are read from the
    store by digest and pushed first.
    """
    if isinstance(ref, str):
        ref = Reference.parse(ref)
    client = registries.client(ref.registry)
    target = ref
    return with_retries(
        lambda: _push_once(target, store, manifest, media_type, registries, mount_from),
        registries.options.push_retries,
        client.backoff,
        f"push of {ref}",
        "--push-retry",
    )


def _push_once(
    ref: Reference,
    store: BlobStore,
    manifest: bytes,
    media_type: str,
    registries: Registries,
    mount_from: Sequence[Reference],
) -> str:
    """Blobs (or child manifests) first, each known present; the manifest PUT last."""
    client = registries.client(ref.registry)
    doc, kind = parse_manifest(manifest, media_type, str(ref))
    if kind in INDEX_TYPES:
        for entry in doc.get("manifests") or []:
            child = descriptor_from_json(entry)
            child_path = store.path(child.digest)
            if not child_path.is_file():
                raise RegistryError(f"manifest {child.digest} of index {ref} is not in the store")
            _push_once(
                Reference(ref.registry, ref.repository, None, child.digest),
                store,
                child_path.read_bytes(),
                child.media_type,
                registries,
                mount_from,
            )
    else:
        config, layers = image_descriptors(doc, str(ref))
        for desc in (*layers, config):
            upload_blob(client, ref, store, desc.digest, mount_from=mount_from)
    return put_manifest(client, ref, manifest, kind)


def check_push_permission(ref: Reference | str, *, registries: Registries) -> None:
    """Start a blob upload, as kaniko does before building, to fail early; then cancel it.

    Cancelling needs the ``delete`` action, which a push-only account may lack: best effort.
    """
    if isinstance(ref, str):
        ref = Reference.parse(ref)
    client = registries.client(ref.registry)
    what = f"push to {ref.name}"
    try:
        resp = client.request(
            "POST",
            f"/v2/{ref.repository}/blobs/uploads/",
            what=what,
            scopes=[ref.scope("pull,push")],
            ok=(202,),
        )
    except RegistryError as exc:
        exc.hint = exc.hint or "--skip-push-permission-check defers this check"
        raise
    location = resp.headers.get("location")
    if location:
        client.request(
            "DELETE",
            urljoin(client.base_url + "/", location),
            what=what,
            scopes=[ref.scope("pull,push")],
            ok=(200, 202, 204, 401, 403, 404, 405),
        )
