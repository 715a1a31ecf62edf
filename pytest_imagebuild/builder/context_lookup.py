"""What a ``--from`` name means in one build once its named contexts are applied.

The plan already carries replaced stages and bases (``NamedContexts.apply``); at run time
``COPY --from`` and ``RUN --mount=from=`` still name things by the text of the instruction.
This answers for them: a directory context (opened as a second build context with its own
``.dockerignore``), or the image reference to pull in place of the name.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from pytest_imagebuild.builder.cache.hashing import ContextHasher
from pytest_imagebuild.builder.context import BuildContext, open_context
from pytest_imagebuild.builder.contexts import NamedContext, NamedContexts
from pytest_imagebuild.builder.plan import Plan

__all__ = ["ContextLookup"]


class ContextLookup:
    """Named contexts of one build: opened directories and their digests, kept per build."""

    def __init__(
        self,
        named: NamedContexts,
        plan: Plan,
        directories: Mapping[int, NamedContext],
        work_dir: Path,
    ) -> None:
        self.named = named
        self.plan = plan
        self.directories = dict(directories)
        self.work_dir = work_dir
        self._opened: dict[str, BuildContext] = {}
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()

    def directory(self, ref: str, before: int, platform: str) -> BuildContext | None:
        """The directory context ``--from=ref`` reads, or None (a stage or an image)."""
        if not self.named:
            return None
        index = self.plan.stage_for(ref, before)
        found = self.directories.get(index) if index is not None else self.named.find(ref, platform)
        if found is None or not found.is_directory:
            return None
        with self._lock:
            opened = self._opened.get(found.source)
            if opened is None:
                # BuildKit reads the directory's own .dockerignore, never <Dockerfile>.dockerignore
                opened = open_context(found.source, None, self.work_dir)
                self._opened[found.source] = opened
            return opened

    def image(self, ref: str, platform: str) -> str:
        """The reference to pull for a (non-stage) ``--from`` image: a context's, or ``ref``."""
        found = self.named.find(ref, platform)
        return found.source if found is not None and not found.is_directory else ref

    def digest(self, context: BuildContext) -> str:
        """Digest of every file the directory's ``.dockerignore`` keeps (for cache keys)."""
        key = str(context.root)
        with self._lock:
            found = self._digests.get(key)
            if found is None:
                found = ContextHasher(context.root, ignore=context).digest(["."])
                self._digests[key] = found
            return found
