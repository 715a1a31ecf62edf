"""The builder's layer cache: content-addressed step keys, a local store, a shared store."""

from __future__ import annotations

from .entry import CachedLayer, CachedStep
from .facade import CachePolicy, CacheStats, LayerCache, logger
from .hashing import ContextHasher, HashMemo, Ignore
from .keys import CACHE_FORMAT, PROXY_ARGS, StepKey, base_key, step_key, visible_args
from .local import DEFAULT_TTL, CacheUsage, LocalCache, default_cache_dir, parse_ttl
from .mounts import SHARING, CacheMount, CacheMounts, Sharing
from .remote import LayoutCache, RegistryCache, RemoteCache, default_cache_repo, open_remote

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_TTL",
    "PROXY_ARGS",
    "SHARING",
    "CacheMount",
    "CacheMounts",
    "CachePolicy",
    "CacheStats",
    "CacheUsage",
    "CachedLayer",
    "CachedStep",
    "ContextHasher",
    "HashMemo",
    "Ignore",
    "LayerCache",
    "LayoutCache",
    "LocalCache",
    "RegistryCache",
    "RemoteCache",
    "Sharing",
    "StepKey",
    "base_key",
    "default_cache_dir",
    "default_cache_repo",
    "logger",
    "open_remote",
    "parse_ttl",
    "step_key",
    "visible_args",
]
