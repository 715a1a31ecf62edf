"""A stage's root directory, made only when a step needs files: lazily, from its layers.

A stage whose steps all come from the layer cache never needs a root: its image is its
layer records, config and history. ``StageRoot`` holds where the root goes and how many of
the stage's layers it has applied; ``ensure(layers)`` makes the directory on first use and
applies the layers it has not applied yet, in order (base layers, then cached steps). Stage
threads share finished stages' roots (``COPY --from``, ``RUN --mount from=``), so ``ensure``
holds a lock.

With a ``SharedBase`` (stages of one build starting from the same image, where overlay
mounts work) the root is an overlay on the base unpacked once, and only the layers after
the base's are applied into it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_imagebuild.builder.fs import Skipped, unpack_layer
from pytest_imagebuild.builder.fs.overlay import SharedBase, mount_overlay, unmount

from .state import LayerRecord

__all__ = ["StageRoot"]


class StageRoot:
    """The root of one stage at ``path``, applied up to ``applied`` of its layers."""

    def __init__(
        self,
        path: Path,
        log: Callable[[str], None],
        label: str,
        base: SharedBase | None = None,
        skipped: Skipped | None = None,
    ) -> None:
        self.path = path
        self.skipped = skipped  # what unpacking could not apply, for the build's report
        self.applied = 0
        self.base = base
        self.mounted = False
        self.upper: Path | None = None  # the overlay's upper directory while mounted
        self._log = log
        self._label = label
        self._made = False
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        """Whether the directory exists (some step or reader needed the files)."""
        return self._made

    def ensure(self, layers: Sequence[LayerRecord]) -> bool:
        """Make the root and apply ``layers[applied:]``; True when anything was applied."""
        with self._lock:
            fresh = not self._made
            if fresh:
                self._make(layers)
            pending = list(layers[self.applied :])
            if pending:
                self._log(
                    f"{self._label}: stage root: unpacking {len(pending)} "
                    f"layer{'s' if len(pending) != 1 else ''}\n"
                )
            for layer in pending:
                unpack_layer(layer.path, self.path, skipped=self.skipped)
                self.applied += 1
            return fresh or bool(pending)

    def written(self, count: int) -> None:
        """The root made the layer that is now the ``count``-th: nothing to apply for it."""
        with self._lock:
            if self.applied == count - 1:
                self.applied = count

    def _make(self, layers: Sequence[LayerRecord]) -> None:
        self.path.mkdir(parents=True)
        os.chmod(self.path, 0o755)  # noqa: S103 - a root directory's usual mode
        self._made = True
        base = self.base
        if base is None or tuple(r.path for r in layers[: len(base.layers)]) != base.layers:
            return
        lower = base.ensure()
        upper = self.path.with_name(self.path.name + ".upper")
        work = self.path.with_name(self.path.name + ".work")
        for made in (upper, work):
            made.mkdir()
        os.chmod(upper, 0o755)  # noqa: S103 - the merged root takes the upper's mode
        if mount_overlay(lower, upper, work, self.path):
            self.mounted = True
            self.upper = upper
            self.applied = len(base.layers)
            self._log(f"{self._label}: stage root: overlay on the shared base\n")

    def release(self) -> None:
        """Unmount an overlay root (the directories go with the build's)."""
        with self._lock:
            if self.mounted:
                unmount(self.path)
                self.mounted = False
