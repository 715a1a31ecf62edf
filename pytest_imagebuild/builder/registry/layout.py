"""A local OCI image layout as a base-image source: ``oci:/path[:tag|@digest]`` or a directory.

A digest names a manifest or an index in the layout's blobs, listed in ``index.json`` or
not; an index is resolved to its entry for the platform, as a registry pull does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_imagebuild.errors import ImageFormatError, RegistryError
from pytest_imagebuild.oci import Descriptor, Platform

from ..blobs import BlobStore
from .manifests import (
    MAX_MANIFEST,
    PulledImage,
    image_descriptors,
    resolve_manifest,
)
from .platforms import descriptor_from_json, host_platform, select_manifest

__all__ = ["is_layout_source", "parse_layout_source", "pull_layout"]

_REF_NAMES = ("org.opencontainers.image.ref.name", "io.containerd.image.name")
_CHUNK = 1024 * 1024


def parse_layout_source(text: str) -> tuple[Path, str | None]:
    """``oci:/path/to/layout:tag`` -> (path, tag); a plain directory has no tag."""
    body = text.removeprefix("oci:")
    path, sep, tag = body.rpartition(":")
    if sep and "/" not in tag and not Path(body).is_dir() and Path(path).is_dir():
        return Path(path), tag or None
    return Path(body), None


def _split_digest(text: str) -> tuple[str, str | None]:
    """``oci:/path@sha256:...`` -> (``oci:/path``, digest); no digest -> (text, None)."""
    body, sep, digest = text.rpartition("@")
    if sep and "/" not in digest and digest.startswith("sha256:"):
        return body, digest
    return text, None


def is_layout_source(text: str) -> bool:
    """True for ``oci:...`` and for a directory holding an ``oci-layout`` file."""
    return text.startswith("oci:") or (Path(text) / "oci-layout").is_file()


def _blob(root: Path, digest: str) -> Path:
    algo, _, hexpart = digest.partition(":")
    if not algo.isalnum() or not hexpart.isalnum():
        raise ImageFormatError(f"OCI layout {root} names a malformed digest {digest!r}")
    return root / "blobs" / algo / hexpart


def _read_small(root: Path, digest: str, entry: Descriptor) -> tuple[bytes, str]:
    path = _blob(root, digest)
    try:
        if path.stat().st_size > MAX_MANIFEST:
            raise ImageFormatError(f"manifest {digest} in OCI layout {root} is too large")
        return path.read_bytes(), entry.media_type if digest == entry.digest else ""
    except FileNotFoundError as exc:
        raise ImageFormatError(f"OCI layout {root} lacks blob {digest}") from exc
    except OSError as exc:
        raise _unreadable(root, path, exc) from exc


def _unreadable(root: Path, path: Path, exc: OSError) -> ImageFormatError:
    return ImageFormatError(
        f"cannot read {path} in OCI layout {root}: {exc.strerror or exc}",
        hint="the building user must be able to read the layout's files (a build as a "
        "user reads them in its user namespace, as that user)",
    )


def _matches(desc: Descriptor, tag: str) -> bool:
    return any(
        name == tag or name.endswith(":" + tag)
        for key in _REF_NAMES
        if (name := desc.annotations.get(key))
    )


def _pick_entry(
    root: Path, tag: str | None, platform: Platform, digest: str | None = None
) -> Descriptor:
    try:
        index: dict[str, Any] = json.loads((root / "index.json").read_text(encoding="utf-8"))
        entries = [descriptor_from_json(m) for m in index.get("manifests") or []]
    except (OSError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise ImageFormatError(f"{root} is not a readable OCI layout (index.json): {exc}") from exc
    if digest is not None:
        listed = [e for e in entries if e.digest == digest]
        if listed:
            return listed[0]
        if not _blob(root, digest).is_file():
            raise RegistryError(
                f"OCI layout {root} has no manifest or index {digest}",
                hint="digests in its index.json: "
                + (", ".join(e.digest for e in entries) or "none"),
            )
        return Descriptor(media_type="", digest=digest, size=0)  # read and verified below
    if tag is not None:
        chosen = [e for e in entries if _matches(e, tag)]
        if not chosen:
            raise RegistryError(f"OCI layout {root} has no image tagged {tag!r}")
        entries = chosen
    if len(entries) > 1 and all(e.platform for e in entries):
        picked = select_manifest(entries, platform)
        if picked is not None:
            return picked
    if len(entries) != 1:
        names = sorted(n for e in entries for k in _REF_NAMES if (n := e.annotations.get(k)))
        raise RegistryError(
            f"OCI layout {root} holds {len(entries)} images; say which with oci:{root}:TAG",
            hint="tags in it: " + (", ".join(names) or "none"),
        )
    return entries[0]


def _copy_blob(root: Path, desc: Descriptor, store: BlobStore) -> Path:
    if store.has(desc.digest):
        return store.path(desc.digest)
    src = _blob(root, desc.digest)
    try:
        with src.open("rb") as fh, store.writer(expected=desc.digest) as writer:
            while data := fh.read(_CHUNK):
                writer.write(data)
    except FileNotFoundError as exc:
        raise ImageFormatError(f"OCI layout {root} lacks blob {desc.digest}") from exc
    except OSError as exc:
        raise _unreadable(root, src, exc) from exc
    except ValueError as exc:
        raise ImageFormatError(
            f"digest mismatch for blob {desc.digest} in OCI layout {root}: {exc}"
        ) from exc
    return store.path(desc.digest)


def pull_layout(
    source: str | Path, store: BlobStore, *, platform: Platform | str | None = None
) -> PulledImage:
    """Read an image from an OCI layout into ``store``, exactly as a registry pull would."""
    text, digest = _split_digest(str(source))
    root, tag = parse_layout_source(text)
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    wanted = wanted or host_platform()
    entry = _pick_entry(root, tag, wanted, digest)
    what = f"oci:{root}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    resolved = resolve_manifest(
        lambda digest: _read_small(root, digest, entry),
        entry.digest,
        wanted,
        what=what,
        source=f"OCI layout {root}",
        expected=entry.digest,
    )
    config_desc, layers = image_descriptors(resolved.manifest, what)
    store.write_bytes(resolved.data)
    try:
        config = json.loads(_copy_blob(root, config_desc, store).read_bytes())
    except (ValueError, RecursionError) as exc:
        raise ImageFormatError(f"config {config_desc.digest} of {what} is not JSON") from exc
    for layer in layers:
        _copy_blob(root, layer, store)
    return resolved.pulled(
        config, config_desc, layers, reference=None, source=what, platform=entry.platform
    )
