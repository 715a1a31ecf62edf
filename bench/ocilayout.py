"""Rewrite a ``docker save`` tarball as an OCI layout directory with gzip layers.

The layers' uncompressed bytes (and so the config's diff_ids) stay the same; only the
blobs are compressed, with isal's gzip. Reused while the source tarball is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

from isal import igzip

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _blob(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _gzip_member(archive: tarfile.TarFile, name: str, blobs: Path) -> tuple[str, int]:
    source = archive.extractfile(name)
    if source is None:
        raise ValueError(f"{name} is not a file in the archive")
    tmp = blobs / "layer.part"
    with tmp.open("wb") as raw, igzip.open(raw, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    sha = hashlib.sha256()
    with tmp.open("rb") as done:
        while chunk := done.read(1 << 20):
            sha.update(chunk)
    tmp.rename(blobs / sha.hexdigest())
    return f"sha256:{sha.hexdigest()}", tmp.with_name(sha.hexdigest()).stat().st_size


def gzip_layout(saved: Path, dest: Path) -> tuple[Path, list[Path]]:
    """The layout and its layer blob paths, in order."""
    stamp = dest / "source.json"
    key = json.dumps([str(saved), saved.stat().st_size, saved.stat().st_mtime_ns])
    if stamp.exists() and stamp.read_text() == key:
        layers = json.loads((dest / "layers.json").read_text())
        return dest, [dest / p for p in layers]
    shutil.rmtree(dest, ignore_errors=True)
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    with tarfile.open(saved) as archive:
        entry = json.loads(archive.extractfile("manifest.json").read())[0]  # type: ignore[union-attr]
        config = archive.extractfile(entry["Config"]).read()  # type: ignore[union-attr]
        layers = [_gzip_member(archive, name, blobs) for name in entry["Layers"]]
    config_digest, config_size = _blob(blobs, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d, "size": s} for d, s in layers],
    }
    manifest_digest, manifest_size = _blob(blobs, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": manifest_size}
        ],
    }
    (dest / "index.json").write_text(json.dumps(index))
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    paths = [f"blobs/sha256/{d.split(':', 1)[1]}" for d, _ in layers]
    (dest / "layers.json").write_text(json.dumps(paths))
    stamp.write_text(key)
    return dest, [dest / p for p in paths]
