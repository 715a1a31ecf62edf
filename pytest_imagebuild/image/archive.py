"""Find the image in a source: OCI index/manifest or docker-archive manifest.json."""

from __future__ import annotations

import hashlib
import json
import platform as host
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_imagebuild import oci
from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.source import Source
from pytest_imagebuild.image.stream import BlobRef

__all__ = ["ImageRef", "LayerRef", "find_image", "list_platforms"]

INDEX_TYPES = (oci.OCI_INDEX, oci.DOCKER_MANIFEST_LIST)
HEX_NAME = re.compile(r"(?:^|/)(?:sha256[:/])?([0-9a-f]{64})(?:\.tar(?:\.gz|\.zst)?)?$")


@dataclass(frozen=True)
class LayerRef:
    blob: BlobRef
    media_type: str | None
    digest: str | None  # expected blob digest, when the format names one


@dataclass
class ImageRef:
    config: dict[str, Any]
    config_bytes: bytes
    config_digest: str
    layers: list[LayerRef]
    digest: str | None = None
    manifest_media_type: str = oci.DOCKER_MANIFEST
    config_media_type: str = oci.DOCKER_CONFIG
    annotations: dict[str, str] = field(default_factory=dict)
    repo_tags: tuple[str, ...] = ()


def host_platform() -> str:
    return str(oci.machine_platform(host.machine()))


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageFormatError(f"{name} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ImageFormatError(
            f"{name} nests JSON too deeply to be an image document",
            hint="image documents are a few levels deep; this one is damaged or hostile",
        ) from None


def _verified(source: Source, desc: dict[str, Any]) -> bytes:
    digest = str(desc.get("digest", ""))
    data = source.read(source.digest_blob(digest).name)
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest and digest.startswith("sha256:"):
        raise ImageFormatError(f"blob {digest} does not match its digest")
    if "size" in desc and desc["size"] != len(data):
        raise ImageFormatError(
            f"blob {digest} has size {len(data)}, descriptor says {desc['size']}"
        )
    return data


def _plat(desc: dict[str, Any]) -> str | None:
    p = desc.get("platform")
    if not isinstance(p, dict) or not p.get("os") or not p.get("architecture"):
        return None
    return str(oci.Platform(str(p["os"]), str(p["architecture"]), p.get("variant") or None))


def _leaves(
    source: Source, index: dict[str, Any], depth: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    """(platform, manifest descriptor) for every image manifest under an index."""
    out: list[tuple[str, dict[str, Any]]] = []
    for desc in index.get("manifests") or []:
        ann = desc.get("annotations") or {}
        if ann.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        if desc.get("mediaType") in INDEX_TYPES and depth < 4:
            out.extend(_leaves(source, _json(_verified(source, desc), desc["digest"]), depth + 1))
            continue
        plat = _plat(desc)
        if plat is None:
            manifest = _json(_verified(source, desc), str(desc.get("digest")))
            cfg = _json(_verified(source, manifest.get("config") or {}), "config")
            plat = str(
                oci.Platform(cfg.get("os", ""), cfg.get("architecture", ""), cfg.get("variant"))
            )
        if plat != "unknown/unknown":
            out.append((plat, desc))
    return out


def _matches(have: str, want: str) -> bool:
    h, w = oci.Platform.parse(have), oci.Platform.parse(want)
    if (h.os, h.architecture) != (w.os, w.architecture):
        return False
    default = "v8" if h.architecture == "arm64" else None
    return w.variant is None or (h.variant or default) == w.variant


def _choose(items: list[tuple[str, Any]], platform: str | None, path: str) -> Any:
    if not items:
        raise ImageFormatError(f"{path} holds no image manifest")
    if platform is None and len({p for p, _ in items}) == 1:
        return items[0][1]
    want = platform or host_platform()
    for plat, item in items:
        if _matches(plat, want):
            return item
    have = ", ".join(sorted({p for p, _ in items}))
    raise ImageFormatError(
        f"{path} has no image for platform {want} (it has {have})",
        hint="pass platform= to Image.open",
    )


def _docker_entries(source: Source) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    entries = _json(source.read("manifest.json"), "manifest.json")
    if not isinstance(entries, list):
        raise ImageFormatError(f"manifest.json in {source.path} is not a list")
    out = []
    for entry in entries:
        config = _json(source.read(str(entry.get("Config"))), str(entry.get("Config")))
        plat = str(
            oci.Platform(
                config.get("os", ""), config.get("architecture", ""), config.get("variant")
            )
        )
        out.append((plat, entry, config))
    return out


def list_platforms(source: Source) -> tuple[str, ...]:
    try:
        return _list_platforms(source)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ImageFormatError(f"malformed image metadata in {source.path}: {exc!r}") from None


def _list_platforms(source: Source) -> tuple[str, ...]:
    if source.has("index.json"):
        items = _leaves(source, _json(source.read("index.json"), "index.json"))
        return tuple(dict.fromkeys(p for p, _ in items))
    return tuple(dict.fromkeys(p for p, _, _ in _docker_entries(source)))


def find_image(source: Source, platform: str | None) -> ImageRef:
    """The image in ``source`` for ``platform`` (default: the only one, else the host's)."""
    try:
        return _find_image(source, platform)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ImageFormatError(f"malformed image metadata in {source.path}: {exc!r}") from None


def _find_image(source: Source, platform: str | None) -> ImageRef:
    if source.has("index.json"):
        return _oci_image(source, platform)
    if source.has("manifest.json"):
        return _docker_image(source, platform)
    raise ImageFormatError(
        f"{source.path} is not an image: it has neither index.json nor manifest.json"
    )


def _oci_image(source: Source, platform: str | None) -> ImageRef:
    index = _json(source.read("index.json"), "index.json")
    desc = _choose(_leaves(source, index), platform, source.path)
    manifest = _json(_verified(source, desc), desc["digest"])
    cfg_desc = manifest.get("config") or {}
    cfg_bytes = _verified(source, cfg_desc)
    layers = []
    for ld in manifest.get("layers") or []:
        blob = source.digest_blob(str(ld.get("digest")))
        if ld.get("size") is not None and ld["size"] != blob.size:
            raise ImageFormatError(
                f"blob {ld['digest']} has size {blob.size}, manifest says {ld['size']}"
            )
        layers.append(LayerRef(blob, ld.get("mediaType"), ld["digest"]))
    ref = ImageRef(
        config=_json(cfg_bytes, "config"),
        config_bytes=cfg_bytes,
        config_digest=cfg_desc["digest"],
        layers=layers,
        digest=desc["digest"],
        manifest_media_type=manifest.get("mediaType") or desc.get("mediaType") or oci.OCI_MANIFEST,
        config_media_type=cfg_desc.get("mediaType") or oci.OCI_CONFIG,
        annotations={str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()},
    )
    ref.repo_tags = _image_names(source, index, desc["digest"])
    if source.has("manifest.json"):
        for _, entry, _ in _docker_entries(source):
            if str(entry.get("Config", "")).endswith(ref.config_digest.partition(":")[2]):
                ref.repo_tags = tuple(entry.get("RepoTags") or ())
    return ref


def _image_names(source: Source, index: dict[str, Any], digest: str) -> tuple[str, ...]:
    """Names (containerd's image name annotation) of top-level entries holding ``digest``."""
    names = []
    for desc in index.get("manifests") or []:
        name = (desc.get("annotations") or {}).get("io.containerd.image.name")
        if not name:
            continue
        if desc.get("digest") == digest or (
            desc.get("mediaType") in INDEX_TYPES
            and any(d.get("digest") == digest for _, d in _leaves(source, {"manifests": [desc]}))
        ):
            names.append(str(name))
    return tuple(dict.fromkeys(names))


def _docker_image(source: Source, platform: str | None) -> ImageRef:
    entries = _docker_entries(source)
    entry, config = _choose([(p, (e, c)) for p, e, c in entries], platform, source.path)
    cfg_name = str(entry.get("Config"))
    cfg_bytes = source.read(cfg_name)
    cfg_digest = "sha256:" + hashlib.sha256(cfg_bytes).hexdigest()
    named = HEX_NAME.search(cfg_name.removesuffix(".json"))
    if named and cfg_digest != "sha256:" + named.group(1):
        raise ImageFormatError(f"config {cfg_name} does not match its digest")
    layers = []
    for name in entry.get("Layers") or []:
        named = HEX_NAME.search(str(name))
        digest = "sha256:" + named.group(1) if named else None
        layers.append(LayerRef(source.blob(str(name)), None, digest))
    return ImageRef(
        config=config,
        config_bytes=cfg_bytes,
        config_digest=cfg_digest,
        layers=layers,
        repo_tags=tuple(entry.get("RepoTags") or ()),
    )
