"""Layers: the public ``Layer`` value, indexing a layer blob, and reading file data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.cache import load_index, store_index
from pytest_imagebuild.image.compressed import CompressedData
from pytest_imagebuild.image.prefetch import prefetched
from pytest_imagebuild.image.stream import BlobRef, Limits, compression_of, decompressed_chunks
from pytest_imagebuild.image.tarindex import Member, iter_members
from pytest_imagebuild.image.tarreader import ChunkReader

__all__ = ["Layer", "LayerData", "index_layer"]

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class Layer:
    """One layer of an image, bottom first."""

    index: int
    digest: str
    diff_id: str
    size: int
    media_type: str
    created_by: str


def clean_path(name: str, where: str) -> str:
    """Normalize a member name into the root ("" is the root); refuse ".." components."""
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise ImageFormatError(
            f"{where}: member {name!r} has a '..' component that could leave the root"
        )
    return "/".join(parts)


def _normalize(members: list[Member], where: str) -> list[Member]:
    out: list[Member] = []
    for m in members:
        path = clean_path(m.name, where)
        head, _, base = path.rpartition("/")
        kind, link = m.kind, m.link
        if base.startswith(WHITEOUT):
            if base == OPAQUE:
                path, kind = head, "o"
            elif base.startswith(WHITEOUT + WHITEOUT):
                continue  # aufs bookkeeping entries
            else:
                path, kind = (head + "/" if head else "") + base[len(WHITEOUT) :], "w"
        elif kind == "h":
            link = clean_path(link, where)
        out.append(m._replace(name=path, kind=kind, link=link))
    return out


def index_layer(
    fd: int,
    blob: BlobRef,
    limits: Limits,
    cache: Path | None,
    cache_key: str | None,
) -> tuple[str, str, str, list[Member]]:
    """Index a layer: (compression, diff_id, blob digest, members with clean paths)."""
    if cache is not None and cache_key is not None:
        hit = load_index(cache, cache_key, blob.size)
        if hit is not None:
            return hit
    compression = compression_of(blob.pread(fd, 0, min(4, blob.size)))
    raw_hash = hashlib.sha256()
    diff_hash = raw_hash if compression == "none" else hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        raw = blob.raw_chunks(fd, raw_hash.update)
        chunks = decompressed_chunks(raw, compression, limits, blob.name)
        for chunk in chunks:
            if diff_hash is not raw_hash:
                diff_hash.update(chunk)
            yield chunk

    chunks = prefetched(hashed())
    try:
        reader = ChunkReader(chunks, f"layer {blob.name}")
        members = _normalize(iter_members(reader, True), f"layer {blob.name}")
    finally:
        chunks.close()  # stops the reader thread at once, also on errors
    diff_id = "sha256:" + diff_hash.hexdigest()
    digest = "sha256:" + raw_hash.hexdigest()
    if cache is not None and cache_key is not None:
        store_index(cache, cache_key, blob.size, compression, diff_id, digest, members)
    return compression, diff_id, digest, members


class LayerData:
    """Reads file contents of one layer on demand: uncompressed layers in place with
    pread, compressed ones through a ``CompressedData`` cursor."""

    def __init__(self, fd: int, blob: BlobRef, compression: str, limits: Limits) -> None:
        self.fd = fd
        self.blob = blob
        self.compressed = (
            CompressedData(fd, blob, compression, limits) if compression != "none" else None
        )

    def read(self, offset: int, size: int) -> bytes:
        if self.compressed is None:
            return self.blob.pread(self.fd, offset, size)
        return self.compressed.read(offset, size)
