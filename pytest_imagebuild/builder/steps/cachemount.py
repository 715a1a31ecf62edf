"""``RUN --mount=type=cache``: BuildKit's options read, the persistent directories taken.

The directories themselves (where they live, how ``sharing`` locks them) are
``builder.cache.CacheMounts``; this module turns a mount's options into a request and holds
a RUN's caches for the length of the command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.builder.cache import SHARING, CacheMount, CacheMounts

from .base import Where
from .mountsource import resolve_source

__all__ = ["CacheRequest", "cache_request", "hold_caches"]


@dataclass(frozen=True)
class CacheRequest:
    mount: CacheMount
    target: str
    seed: Callable[[Path], None] | None


def cache_request(
    where: Where,
    opts: dict[str, str],
    target: str,
    from_root: Callable[[str], Path] | None,
) -> CacheRequest:
    """BuildKit's cache mount options as a request; ``from=`` seeds a new directory."""
    sharing = opts.get("sharing", "shared").lower()
    if sharing not in SHARING:
        raise where.error(
            f"invalid cache sharing {sharing!r}", hint="use shared, private or locked"
        )
    try:
        mode, uid, gid = (
            int(opts.get("mode", "0755"), 8),
            int(opts.get("uid", "0")),
            int(opts.get("gid", "0")),
        )
    except ValueError as error:
        raise where.error(f"invalid cache mount option: {error}") from None
    source = opts.get("from", "")
    inner = opts.get("source") or opts.get("src") or ""
    ident = opts.get("id") or target
    seed_from = f"{source}\0{inner}" if source else ""
    mount = CacheMount(ident, sharing, mode, uid, gid, seed_from)
    if not source or from_root is None:
        return CacheRequest(mount, target, None)
    origin = resolve_source(from_root(source), inner, lambda text: where.error("cache " + text))

    def seed(dest: Path) -> None:
        if not origin.is_dir():
            raise where.error(
                f"cache mount source {inner or '/'!r} is not a directory in {source!r}"
            )
        sandbox.copy_tree(origin, dest)

    return CacheRequest(mount, target, seed)


def hold_caches(
    where: Where,
    requests: list[tuple[int, CacheRequest]],
    mounts: list[sandbox.Mount],
    cache_dir: Path,
    scratch: Path,
    stack: contextlib.ExitStack,
    *,
    exclusive: bool,
) -> None:
    """Take the RUN's cache directories, in one global order (no two RUNs wait on each other
    in a cycle), and put each in ``mounts`` at the index its request names."""
    caches = CacheMounts(cache_dir)
    held: dict[str, Path] = {}
    for index, request in sorted(requests, key=lambda item: item[1].mount.name):
        mount = request.mount
        host = held.get(mount.name)
        if host is None:
            try:
                host = stack.enter_context(
                    caches.use(mount, scratch=scratch, exclusive=exclusive, seed=request.seed)
                )
            except OSError as error:
                hint = f"cache mounts persist in {cache_dir}; --cache-dir moves them"
                message = f"cannot prepare cache mount {mount.ident!r}: {error}"
                raise where.error(message, hint) from None
            held[mount.name] = host
        mounts[index] = sandbox.Mount.bind(host, request.target, readonly=False)
