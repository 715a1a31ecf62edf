"""Base images fetched ahead (kaniko's warmer), kept in ``<cache dir>/bases``.

``imagebuild warm --image REF`` pulls each image for one platform into an OCI layout of its
own, ``bases/<sha256 of "REF\\nPLATFORM">/``, written under a temporary name and renamed into
place. A build with ``--cache`` and the same ``--cache-dir`` takes a base from there before it
asks any registry, while the entry is younger than ``--cache-ttl`` (its time is when it was
written), so a job with a warmed cache needs no network for its bases. kaniko's executor
resolves a tag remotely even then; this cache does not, which is what an offline job needs.
Every blob is verified against its digest when a build reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild import oci
from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.registry import Registries, pull_image
from pytest_imagebuild.errors import ImageBuildError

__all__ = ["WarmBases", "WarmResult", "warm"]

_REF_NAME = "org.opencontainers.image.ref.name"


def _key(ref: str, platform: str) -> str:
    return hashlib.sha256(f"{ref}\n{platform}".encode()).hexdigest()


@dataclass(frozen=True)
class WarmBases:
    """The warmed bases of one cache directory, fresh for ``ttl`` seconds."""

    cache_dir: Path
    ttl: float

    @property
    def root(self) -> Path:
        return self.cache_dir / "bases"

    def entry(self, ref: str, platform: str) -> Path:
        return self.root / _key(ref, platform)

    def lookup(self, ref: str, platform: str) -> Path | None:
        """The OCI layout warmed for ``ref`` on ``platform``, if there is a fresh one."""
        entry = self.entry(ref, platform)
        try:
            written = (entry / "index.json").stat().st_mtime
        except OSError:
            return None
        return entry if time.time() - written < self.ttl else None


@dataclass
class WarmResult:
    warmed: list[tuple[str, str]] = field(default_factory=list)  # (ref, manifest digest)
    kept: list[str] = field(default_factory=list)  # fresh entries left as they were
    failed: list[tuple[str, str]] = field(default_factory=list)  # (ref, message)


def warm(
    refs: Sequence[str],
    bases: WarmBases,
    registries: Registries,
    platform: str,
    *,
    force: bool = False,
    log: Callable[[str], None] = lambda text: None,
) -> WarmResult:
    """Pull each of ``refs`` into ``bases``; an entry that is fresh is kept unless ``force``."""
    result = WarmResult()
    bases.root.mkdir(parents=True, exist_ok=True)
    for ref in refs:
        if not force and bases.lookup(ref, platform) is not None:
            log(f"{ref}: already in the cache, kept (use --force to fetch it again)")
            result.kept.append(ref)
            continue
        try:
            digest = _warm_one(ref, bases, registries, platform)
        except ImageBuildError as exc:
            log(f"{ref}: {exc.message}")
            result.failed.append((ref, exc.message))
            continue
        log(f"{ref}: warmed {digest} for {platform} in {bases.entry(ref, platform)}")
        result.warmed.append((ref, digest))
    return result


def _warm_one(ref: str, bases: WarmBases, registries: Registries, platform: str) -> str:
    temp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=bases.root))
    try:
        pulled = pull_image(ref, BlobStore(temp), registries=registries, platform=platform)
        descriptor = oci.Descriptor(
            pulled.manifest_media_type,
            pulled.manifest_digest,
            BlobStore(temp).path(pulled.manifest_digest).stat().st_size,
            annotations={_REF_NAME: ref},
            platform=oci.Platform.parse(platform),
        )
        index = {
            "schemaVersion": 2,
            "mediaType": oci.OCI_INDEX,
            "manifests": [descriptor.to_json()],
        }
        (temp / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
        (temp / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        _replace_dir(temp, bases.entry(ref, platform))
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return pulled.manifest_digest


def _replace_dir(new: Path, final: Path) -> None:
    """Put ``new`` at ``final``; an older entry is moved aside first and then removed."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=final.parent))
        os.replace(final, old / "entry")
    os.replace(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
