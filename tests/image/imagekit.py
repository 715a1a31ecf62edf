"""Build small image tarballs and layouts in tests, without docker."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

MTIME = 1_700_000_000


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    info: tarfile.TarInfo
    data: bytes = b""


def _info(name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = MTIME
    return info


def file(
    name: str,
    data: bytes = b"",
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    xattrs: dict[str, bytes] | None = None,
) -> Entry:
    info = _info(name, tarfile.REGTYPE, mode, uid, gid)
    info.size = len(data)
    if xattrs:
        info.pax_headers = {
            "SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
        }
    return Entry(info, data)


def directory(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(_info(name, tarfile.DIRTYPE, mode, uid, gid))


def symlink(name: str, target: str) -> Entry:
    info = _info(name, tarfile.SYMTYPE, 0o777)
    info.linkname = target
    return Entry(info)


def hardlink(name: str, target: str) -> Entry:
    info = _info(name, tarfile.LNKTYPE, 0o644)
    info.linkname = target
    return Entry(info)


def special(name: str, kind: bytes, mode: int = 0o666) -> Entry:
    info = _info(name, kind, mode)
    info.devmajor, info.devminor = 1, 3
    return Entry(info)


def whiteout(path: str) -> Entry:
    head, _, base = path.rpartition("/")
    return file((head + "/" if head else "") + ".wh." + base)


def opaque(directory_path: str) -> Entry:
    return file(directory_path.rstrip("/") + "/.wh..wh..opq")


def tar_bytes(entries: list[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, encoding="utf-8") as tar:
        for e in entries:
            tar.addfile(e.info, io.BytesIO(e.data) if e.info.isreg() else None)
    return out.getvalue()


@dataclass
class Layer:
    """A layer: its tar (uncompressed) and the blob as stored."""

    tar: bytes
    blob: bytes

    @property
    def diff_id(self) -> str:
        return sha(self.tar)

    @property
    def digest(self) -> str:
        return sha(self.blob)


def layer(entries: list[Entry], compression: str = "none", fmt: int = tarfile.PAX_FORMAT) -> Layer:
    raw = tar_bytes(entries, fmt)
    return Layer(raw, compress(raw, compression))


def compress(raw: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(raw, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def config(layers: list[Layer], arch: str = "amd64", **run: Any) -> dict[str, Any]:
    return {
        "architecture": arch,
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": [lay.diff_id for lay in layers]},
        "history": [{"created_by": f"step {i}"} for i in range(len(layers))],
    }


@dataclass
class Spec:
    layers: list[Layer]
    config: dict[str, Any]
    platform: str = "linux/amd64"
    extra_blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def config_bytes(self) -> bytes:
        return json.dumps(self.config).encode()


def add_tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = MTIME
    tar.addfile(info, io.BytesIO(data))


def docker_archive(
    path: Path, spec: Spec, style: str = "legacy", tags: tuple[str, ...] = ()
) -> Path:
    """docker save: ``legacy`` (``<id>/layer.tar``), ``blobs`` (docker 25+: blobs/,
    index.json and manifest.json) or ``kaniko`` (``--tar-path``) style."""
    cfg = spec.config_bytes
    cfg_hex = sha(cfg)[7:]
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        if style == "legacy":
            cfg_name = cfg_hex + ".json"
            names = [f"{sha(lay.tar)[7:]}/layer.tar" for lay in spec.layers]
        elif style == "blobs":
            cfg_name = "blobs/sha256/" + cfg_hex
            names = ["blobs/sha256/" + lay.digest[7:] for lay in spec.layers]
        else:
            cfg_name = "sha256:" + cfg_hex
            names = [lay.digest[7:] + ".tar.gz" for lay in spec.layers]
        add_tar_member(tar, cfg_name, cfg)
        for name, lay in zip(names, spec.layers, strict=True):
            if name not in tar.getnames():
                add_tar_member(tar, name, lay.blob)
        manifest = [{"Config": cfg_name, "RepoTags": list(tags), "Layers": names}]
        add_tar_member(tar, "manifest.json", json.dumps(manifest).encode())
        if style == "blobs":
            for name, data in oci_blobs([spec]).items():
                if name not in tar.getnames():
                    add_tar_member(tar, name, data)
    return path


def _manifest(spec: Spec) -> dict[str, Any]:
    media = {"none": "", "gzip": "+gzip", "zstd": "+zstd"}
    layers = []
    for lay in spec.layers:
        kind = (
            "gzip"
            if lay.blob[:2] == b"\x1f\x8b"
            else "zstd"
            if lay.blob[:4] == b"\x28\xb5\x2f\xfd"
            else "none"
        )
        layers.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar" + media[kind],
                "digest": lay.digest,
                "size": len(lay.blob),
            }
        )
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha(spec.config_bytes),
            "size": len(spec.config_bytes),
        },
        "layers": layers,
        "annotations": {"org.example.note": "hello"},
    }


def oci_blobs(specs: list[Spec], nested: bool = False) -> dict[str, bytes]:
    """Every file of an OCI layout (path -> bytes) holding ``specs`` (several = multi-platform)."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}

    def blob(data: bytes) -> dict[str, Any]:
        files["blobs/sha256/" + sha(data)[7:]] = data
        return {"digest": sha(data), "size": len(data)}

    descs = []
    for spec in specs:
        blob(spec.config_bytes)
        for lay in spec.layers:
            blob(lay.blob)
        for name, data in spec.extra_blobs.items():
            files[name] = data
        desc = blob(json.dumps(_manifest(spec)).encode())
        os_, arch, *variant = spec.platform.split("/")
        plat = {"os": os_, "architecture": arch}
        if variant:
            plat["variant"] = variant[0]
        descs.append(
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", **desc, "platform": plat}
        )
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descs,
    }
    if nested:
        inner = blob(json.dumps(index).encode())
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", **inner}],
        }
    files["index.json"] = json.dumps(index).encode()
    return files


def oci_layout(path: Path, specs: list[Spec], nested: bool = False) -> Path:
    for name, data in oci_blobs(specs, nested).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def oci_archive(path: Path, specs: list[Spec], nested: bool = False) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in oci_blobs(specs, nested).items():
            add_tar_member(tar, name, data)
    return path


def simple(entries: list[Entry], compression: str = "none", **run: Any) -> Spec:
    lay = layer(entries, compression)
    return Spec([lay], config([lay], **run))
