"""``LayerCache``: the one object a build talks to. Local first, then the shared cache."""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild import oci
from pytest_imagebuild.errors import ImageBuildError

from ..blobs import BlobStore
from ..registry import Registries, host_platform
from .entry import CachedStep
from .hashing import ContextHasher, Ignore
from .keys import StepKey
from .local import DEFAULT_TTL, LocalCache
from .remote import RemoteCache, open_remote

__all__ = ["CachePolicy", "CacheStats", "LayerCache", "logger"]

logger = logging.getLogger("pytest_imagebuild.builder.cache")

_FAILURES = (ImageBuildError, OSError, ValueError)


@dataclass(frozen=True)
class CachePolicy:
    """kaniko's cache flags: which steps are cached, for how long, and whether to push."""

    run_layers: bool = True
    copy_layers: bool = False
    ttl: float = DEFAULT_TTL
    no_push_cache: bool = False

    def caches(self, keyword: str) -> bool:
        """Whether a step with this instruction keyword is looked up and stored."""
        keyword = keyword.upper()
        if keyword == "RUN":
            return self.run_layers
        return keyword in ("COPY", "ADD") and self.copy_layers


@dataclass
class CacheStats:
    """Counts for the build summary; ``warnings`` holds each shared-cache failure message."""

    local_hits: int = 0
    remote_hits: int = 0
    misses: int = 0
    stored: int = 0
    pushed: int = 0
    warnings: list[str] = field(default_factory=list)


class LayerCache:
    """Looks steps up and stores them. Shared-cache failures are logged warnings, never errors.

    Pushes run on a background thread (as kaniko pushes while it builds); ``close()`` waits
    for them. Use it as a context manager.
    """

    def __init__(
        self, local: LocalCache, remote: RemoteCache | None = None, *, policy: CachePolicy
    ) -> None:
        self.local = local
        self.remote = remote
        self.policy = policy
        self.stats = CacheStats()
        self._pushes: list[Future[None]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        cache_dir: Path,
        *,
        policy: CachePolicy | None = None,
        repo: str | None = None,
        registries: Registries | None = None,
        platform: oci.Platform | str | None = None,
    ) -> LayerCache:
        """The cache for a build: ``cache_dir`` locally, plus ``repo`` (``--cache-repo``,
        a registry repository or ``oci:/dir``) when given. ``platform`` (default: the
        host's) is what the shared entries' image configs declare."""
        policy = policy or CachePolicy()
        plat = oci.Platform.parse(platform) if isinstance(platform, str) else platform
        plat = plat or host_platform()
        remote = open_remote(repo, registries=registries, platform=plat) if repo else None
        local = LocalCache(cache_dir, ttl=policy.ttl)
        for problem in local.reap():  # temp files of builds that died
            logger.warning("could not remove a dead build's cache file: %s", problem)
        return cls(local, remote, policy=policy)

    @property
    def blobs(self) -> BlobStore:
        """Where cached layers live; a build writing its layers here avoids copying them."""
        return self.local.blobs

    def hasher(self, root: Path, *, ignore: Ignore | None = None) -> ContextHasher:
        """A ContextHasher for ``root`` whose content hashes are memoized in the cache dir."""
        return ContextHasher(root, ignore=ignore, memo=self.local.memo(root))

    def lock(self, key: StepKey) -> contextlib.AbstractContextManager[None]:
        return self.local.lock(key)

    def _warn(self, text: str) -> None:
        logger.warning(text)
        with self._lock:
            self.stats.warnings.append(text)

    def lookup(self, key: StepKey) -> CachedStep | None:
        """The cached step for ``key``: local entry, else the shared cache (then kept locally)."""
        found = self.local.get(key)
        if found is not None:
            self._count("local_hits")
            logger.debug("cache: %s found in %s", key, self.local.root)
            return found
        if self.remote is not None:
            try:
                found = self.remote.fetch(key, self.local.blobs)
                if found is not None and not self.local.expired(found):
                    kept = self.local.put(key, found)
                    self._count("remote_hits")
                    logger.debug("cache: %s found in %s", key, self.remote.name)
                    return kept
            except _FAILURES as exc:
                self._warn(f"cache {self.remote.name}: lookup of {key} failed, building: {exc}")
        self._count("misses")
        logger.debug("cache: %s not cached: the step runs", key)
        return None

    def store(self, key: StepKey, step: CachedStep, *, source: BlobStore | None = None) -> None:
        """Keep ``step`` locally (blob from ``source`` unless already in ``blobs``) and push
        it to the shared cache in the background unless ``no_push_cache``."""
        kept = self.local.put(key, step, source=source)
        self._count("stored")
        logger.debug("cache: %s stored", key)
        if self.remote is None or self.policy.no_push_cache:
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cache-push")
            self._pushes.append(self._pool.submit(self._push, key, kept))

    def _push(self, key: StepKey, step: CachedStep) -> None:
        remote = self.remote
        if remote is None:
            return
        try:
            remote.push(key, step, self.local.blobs)
        except _FAILURES as exc:
            self._warn(f"cache {remote.name}: push of {key} failed: {exc}")
            return
        self._count("pushed")

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def wait(self) -> None:
        """Wait for pending pushes (their failures are already warnings)."""
        with self._lock:
            pending, self._pushes = self._pushes, []
        for future in pending:
            future.result()

    def close(self) -> None:
        self.wait()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> LayerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
