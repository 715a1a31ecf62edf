"""What a cache entry holds: the step's layer (or none) and what the image records of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import CACHE_FORMAT, StepKey

__all__ = ["CachedLayer", "CachedStep", "EntryError"]


class EntryError(ValueError):
    """A stored entry is malformed, of another format, or for another key."""


@dataclass(frozen=True)
class CachedLayer:
    """A layer blob as stored: digest and size of the blob, diff id of its tar, media type."""

    digest: str
    diff_id: str
    size: int
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "diff_id": self.diff_id,
            "size": self.size,
            "media_type": self.media_type,
        }

    @classmethod
    def from_json(cls, raw: Any) -> CachedLayer:
        if not isinstance(raw, dict):
            raise EntryError("layer is not an object")
        try:
            layer = cls(
                str(raw["digest"]), str(raw["diff_id"]), int(raw["size"]), str(raw["media_type"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryError(f"layer lacks a field: {exc}") from exc
        for digest in (layer.digest, layer.diff_id):
            if not digest.startswith("sha256:") or len(digest) != 71:
                raise EntryError(f"layer digest {digest!r} is not sha256")
        return layer


@dataclass(frozen=True)
class CachedStep:
    """One step's result as the cache keeps it.

    ``layer``: the layer the step added, or None when it changed no file. ``history``: the
    image history entry (``created_by``, ``author``, ``comment``...; ``created`` and
    ``empty_layer`` are rewritten by whoever assembles the image). ``config``: the container
    config after the step, for steps that change it (None: unchanged). ``created``: Unix time
    the entry was made (TTL is measured from it).
    """

    layer: CachedLayer | None
    history: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] | None = None
    created: float = 0.0

    @property
    def created_by(self) -> str:
        return str(self.history.get("created_by", ""))

    def to_json(self, key: StepKey) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "key": key.hex,
            "created": self.created,
            "layer": self.layer.to_json() if self.layer is not None else None,
            "history": dict(self.history),
            "config": dict(self.config) if self.config is not None else None,
        }

    @classmethod
    def from_json(cls, raw: Any, key: StepKey) -> CachedStep:
        if not isinstance(raw, dict) or raw.get("format") != CACHE_FORMAT:
            raise EntryError("not an entry of this cache format")
        if raw.get("key") != key.hex:
            raise EntryError(f"entry is for key {raw.get('key')!r}, not {key.hex}")
        history, config = raw.get("history"), raw.get("config")
        if not isinstance(history, dict) or not (config is None or isinstance(config, dict)):
            raise EntryError("entry history or config is malformed")
        try:
            created = float(raw["created"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryError("entry has no creation time") from exc
        layer = raw.get("layer")
        return cls(
            layer=CachedLayer.from_json(layer) if layer is not None else None,
            history=history,
            config=config,
            created=created,
        )
