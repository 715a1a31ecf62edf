"""A stage's root directory, made only when a step needs files: lazily, from its layers.

A stage whose steps all come from the layer cache never needs a root: its image is its
layer records, config and history. ``StageRoot`` holds where the root goes and how many of
the stage's layers it has applied; ``ensure(layers)`` makes the directory on first use and
applies the layers it has not applied yet, in order (base layers, then cached steps). Stage
threads share finished stages' roots (``COPY --from``, ``RUN --mount from=``), so ``ensure``
holds a lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_imagebuild.builder.fs import unpack_layer

from .state import LayerRecord

__all__ = ["StageRoot"]


class StageRoot:
    """The root of one stage at ``path``, applied up to ``applied`` of its layers."""

    def __init__(self, path: Path, log: Callable[[str], None], label: str) -> None:
        self.path = path
        self.applied = 0
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
                self.path.mkdir(parents=True)
                os.chmod(self.path, 0o755)  # noqa: S103 - a root directory's usual mode
                self._made = True
            pending = list(layers[self.applied :])
            if pending:
                self._log(
                    f"{self._label}: stage root: unpacking {len(pending)} "
                    f"layer{'s' if len(pending) != 1 else ''}\n"
                )
            for layer in pending:
                unpack_layer(layer.path, self.path)
                self.applied += 1
            return fresh or bool(pending)
