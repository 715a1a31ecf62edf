"""Registry clients shared across pulls and pushes, one per registry host."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from .client import RegistryClient
from .options import RegistryOptions

__all__ = ["Registries"]


class Registries:
    """Keeps one RegistryClient (and its tokens) per registry; close it when done.

    Safe to share between threads (stages pulling in parallel). kaniko has separate flags for
    pulls and pushes (``--insecure-pull`` vs ``--insecure``): use one Registries for each.
    """

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        # (reference, platform) -> an OCI layout holding that image, asked before a
        # registry (the warmed bases of ``--cache-dir``)
        self.base_lookup: Callable[[str, str], Path | None] | None = None
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def client(self, registry: str) -> RegistryClient:
        with self._lock:
            found = self._clients.get(registry)
            if found is None:
                found = self._clients[registry] = RegistryClient(registry, self.options)
            return found

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Registries:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
