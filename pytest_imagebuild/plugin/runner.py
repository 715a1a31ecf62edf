"""``SandboxRunner``: run commands in an image's filesystem with the sandbox RUN uses.

Each image is unpacked once into ``<cache dir>/roots/<key>``, keyed by its layers' diff_ids
and the uid mapping (the same image unpacked as root and rootless owns its files differently).
The unpack runs under a per-key file lock (pytest-xdist workers wait for each other) into a
temporary directory that is renamed into place, so a root is either whole or absent. Commands
never write that root: each ``execute`` call works in a fresh overlay (or copy) of it, made
and removed by a child process (see ``runview`` and ``runchild``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from pytest_imagebuild.builder import sandbox, userns
from pytest_imagebuild.builder.fs import unpack_layer
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.image.invocation import Invocation, RunResult
from pytest_imagebuild.plugin.runchild import in_mount_namespace
from pytest_imagebuild.plugin.runview import run_in_view

__all__ = ["SandboxRunner"]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _unpack(blobs: list[str], root: str) -> None:
    """As uid 0 (in the user namespace when rootless): apply the layers onto a new root."""
    os.mkdir(root, 0o755)
    os.chmod(root, 0o755)  # noqa: S103 - a root directory's usual mode
    for blob in blobs:
        unpack_layer(Path(blob), Path(root))


def _remove(path: Path) -> None:
    if not os.path.lexists(path):
        return
    if os.geteuid() == 0:
        shutil.rmtree(path, ignore_errors=True)
    else:
        userns.remove_tree(path)


class SandboxRunner:
    """Runs :class:`Invocation` values for images; attach it as ``image.runner``.

    ``cache_dir`` holds the unpacked roots and each run's scratch directory; ``mode`` is the
    sandbox mode (probed once when not given); ``view="copy"`` skips overlayfs and copies the
    root for each call (what happens anyway where overlayfs does not mount). ``unpacks``
    counts roots this runner made, ``views`` the kinds of writable views it used.
    """

    def __init__(
        self,
        cache_dir: Path,
        mode: sandbox.SandboxMode | None = None,
        *,
        view: Literal["auto", "copy"] = "auto",
    ) -> None:
        if view not in ("auto", "copy"):
            raise UsageError(f"view must be 'auto' or 'copy', not {view!r}")
        self.cache_dir = cache_dir
        self.view = view
        self._mode = mode
        self.unpacks = 0
        self.runs = 0
        self.views: set[str] = set()
        self._roots: dict[tuple[str, ...], Path] = {}

    @property
    def mode(self) -> sandbox.SandboxMode:
        if self._mode is None:
            self._mode = sandbox.probe()
        return self._mode

    def _key(self, image: Image) -> str:
        kind = "root" if os.geteuid() == 0 else userns.plan().kind
        text = "\n".join([kind, *(layer.diff_id for layer in image.layers)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def root_of(self, image: Image) -> Path:
        """The unpacked root of ``image``, made on first use (read it, never write it)."""
        layers = tuple(layer.diff_id for layer in image.layers)
        known = self._roots.get(layers)
        if known is not None and known.is_dir():
            return known
        roots = self.cache_dir / "roots"
        key = self._key(image)
        final = roots / key
        if not final.is_dir():
            roots.mkdir(parents=True, exist_ok=True)
            with _locked(roots / f"{key}.lock"):
                if not final.is_dir():
                    self._make(image, roots, key, final)
        self._roots[layers] = final
        return final

    def _make(self, image: Image, roots: Path, key: str, final: Path) -> None:
        for stale in roots.glob(f"{key}.tmp-*"):  # left by a killed process; we hold the lock
            _remove(stale)
        work = Path(tempfile.mkdtemp(prefix=f"{key}.tmp-", dir=roots))
        try:
            blobs = []
            for index in range(len(image.layers)):
                blob = work / f"layer-{index}"
                with open(blob, "wb") as out:
                    for chunk in image.layer_blob(index):
                        out.write(chunk)
                blobs.append(str(blob))
            userns.run_in_userns(_unpack, blobs, str(work / "root"))
            os.rename(work / "root", final)
            self.unpacks += 1
        finally:
            _remove(work)

    def execute(self, image: Image, invocations: Sequence[Invocation]) -> list[RunResult]:
        """Run ``invocations`` in order in one fresh writable view of ``image``."""
        mode = self.mode
        mode.check()
        base = self.root_of(image)
        shell = image.file("/bin/sh", follow_symlinks=True).is_file
        runs = self.cache_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="view-", dir=runs))
        rootless = os.geteuid() != 0
        try:
            view, results = in_mount_namespace(
                run_in_view,
                str(base),
                str(scratch),
                mode,
                shell,
                rootless,
                self.view == "auto",
                list(invocations),
            )
        finally:
            _remove(scratch)
        self.views.add(view)
        self.runs += len(invocations)
        return results
