"""Runs one stage: base image, ONBUILD triggers, every instruction, one layer per change."""

from __future__ import annotations

import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.cache import StepKey
from pytest_imagebuild.builder.context import BuildContext
from pytest_imagebuild.builder.dockerfile import parse
from pytest_imagebuild.builder.fs import Changes, IgnoreList, Skipped, Snapshotter, write_layer
from pytest_imagebuild.builder.fs.snapshot import Index
from pytest_imagebuild.builder.plan import Stage
from pytest_imagebuild.errors import BuildError, ImageBuildError

from .base import Where
from .caching import StepCache
from .copy import CopySources, copy_step
from .copyfs import Copier
from .history import epoch_rfc3339, history_entry
from .metadata import METADATA, apply_metadata
from .run import RunServices, run_step
from .stageroot import StageRoot
from .state import LayerRecord, StageState
from .workdir import workdir_step

__all__ = ["StageEnv", "StageRunner"]


class StageEnv(Protocol):
    """What a stage needs from the whole build."""

    store: BlobStore
    context: BuildContext
    work_dir: Path
    cache_mounts_dir: Path
    path: str
    escape: str
    compression: str
    compression_level: int | None
    epoch: int | None  # SOURCE_DATE_EPOCH: history times and file times clamped to it
    single_snapshot: bool
    ignore: IgnoreList
    secrets: dict[str, Path]
    ssh: dict[str, Path]
    labels: dict[str, str]
    step_cache: StepCache | None
    skipped: Skipped

    def from_root(self, ref: str, before: int) -> Path: ...

    def from_key(self, ref: str, before: int) -> str: ...

    def from_context(self, ref: str, before: int) -> BuildContext | None: ...

    def log(self, text: str) -> None: ...

    def output(self, text: str) -> None: ...


@dataclass
class StageRunner:
    """Executes ``stage`` on ``state`` (holding the base config and layers).

    The stage's files exist only once a step needs them: ``root`` is made and brought up to
    date with ``state.layers`` (base, then cached steps) by the first step that executes.
    Until then cached steps only add their layer records and history.
    """

    stage: Stage
    state: StageState
    env: StageEnv
    root: StageRoot
    key: StepKey | None = None
    cache_keys: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.snapshotter: Snapshotter | None = None
        self._indexed = False
        self.steps = 0  # instructions taken, run or from the cache
        if self.env.single_snapshot:
            self._files()  # the one snapshot compares against the base as unpacked

    def _files(self) -> Path:
        """The stage root with every layer so far applied (made on first use)."""
        if self.root.ensure(self.state.layers):
            self._indexed = False  # files changed under the index: the next RUN re-indexes
        if self.snapshotter is None:
            base, ignore = self.root.base, self.env.ignore
            overlaid = self.root.upper is not None and base is not None
            self.snapshotter = Snapshotter(
                self.root.path,
                ignore,
                upper=self.root.upper,
                lower=(lambda: base.index(ignore)) if overlaid and base else None,
            )
        self.state.root = self.root.path
        return self.root.path

    # -- the layer cache ------------------------------------------------------------------
    def _chain(self, created_by: str) -> None:
        cache = self.env.step_cache
        if cache is not None and self.key is not None:
            self.key = cache.chain(self.key, created_by)
            self.cache_keys.append(self.key.hex)

    def _cached_key(self, where: Where) -> StepKey | None:
        """The key to look up for a RUN/COPY/ADD, or None when this step is not cached."""
        cache = self.env.step_cache
        if cache is None or self.key is None or self.env.single_snapshot:
            return None
        if not cache.caches(where.keyword):
            return None
        if where.keyword == "RUN":
            return cache.run_key(
                self.key, where, self.state, lambda ref: self.env.from_key(ref, self.stage.index)
            )
        ref = where.instruction.flag("from")
        from_key = self.env.from_key(ref, self.stage.index) if ref else None
        return cache.copy_key(self.key, where, self.state, from_key)

    def _replay(self, key: StepKey, *, local: bool = False) -> bool:
        """Take a cached step: its layer record and history entry (the root, if made, is
        brought up to date by the next step that needs files). False on a miss."""
        cache = self.env.step_cache
        if cache is None:
            return False
        found = cache.lookup_local(key) if local else cache.lookup(key)
        if found is None:
            return False
        if found.layer is not None:
            self.state.layers.append(cache.record(found.layer))
        created = found.history.get("created")
        self._history(
            found.created_by,
            empty=found.layer is None,
            created=created if isinstance(created, str) else None,
        )
        self._done(key)
        return True

    def _done(self, key: StepKey) -> None:
        self.key = key
        self.cache_keys.append(key.hex)

    def _baseline(self) -> None:
        if self.snapshotter is not None and not self._indexed:
            self.snapshotter.reset()
            self._indexed = True

    def run(self) -> StageState:
        triggers = list(self.state.config.get("OnBuild") or [])
        self.state.config["OnBuild"] = None
        for text in triggers:
            for instruction in parse(text + "\n", path=f"{self.env.path} (ONBUILD)").instructions:
                self.step(Where(instruction, self.env.path, self.env.escape))
        for instruction in self.stage.instructions:
            self.step(Where(instruction, self.env.path, self.env.escape))
        if self.env.single_snapshot and self.snapshotter is not None:
            self._layer_from(self.snapshotter.snapshot(), mark_last=True)
        if self.env.labels:
            labels = dict(self.state.config.get("Labels") or {})
            labels.update(self.env.labels)
            self.state.config["Labels"] = labels
        return self.state

    def step(self, where: Where) -> None:
        try:
            self._step(where)
        except ImageBuildError as exc:
            if exc.location is None:
                exc.location = where.location
            if isinstance(exc, BuildError) and exc.instruction is None:
                exc.instruction = where.instruction.original.strip()
            raise

    def _step(self, where: Where) -> None:
        keyword = where.keyword
        self.steps += 1
        self.env.log(f"{self.stage.label}: {where.instruction.original.strip()}\n")
        if keyword in METADATA:
            created_by = apply_metadata(where, self.state)
            key = self._local_key(created_by)
            cache = self.env.step_cache
            if key is None or cache is None:
                self._history(created_by, empty=True)
                self._chain(created_by)
                return
            with cache.lock(key):
                if not self._replay(key, local=True):
                    self._history(created_by, empty=True)
                    cache.store_local(key, self.state, False, self.env.store)
                    self._done(key)
            return
        if keyword == "WORKDIR":
            self._workdir(where)
            return
        key = self._cached_key(where) if keyword in ("RUN", "COPY", "ADD") else None
        cache = self.env.step_cache
        if key is None or cache is None:
            self._execute(where, None)
            return
        with cache.lock(key):
            if not self._replay(key):
                self._execute(where, key)

    def _execute(self, where: Where, key: StepKey | None) -> None:
        keyword = where.keyword
        layers_before = len(self.state.layers)
        if keyword in ("COPY", "ADD", "RUN"):
            self._files()
        if keyword in ("COPY", "ADD"):
            self._baseline()
            sources = CopySources(
                self.env.context,
                lambda ref: self.env.from_root(ref, self.stage.index),
                self.env.work_dir / "downloads",
                from_context=lambda ref: self.env.from_context(ref, self.stage.index),
                skipped=self.env.skipped,
            )
            result = copy_step(where, self.state, sources)
            created_by = result.created_by
            self._commit(created_by, [p for p in result.changed if p])
        elif keyword == "RUN":
            self._baseline()
            services = RunServices(
                work_dir=self.env.work_dir,
                cache_dir=self.env.cache_mounts_dir,
                context_root=self.env.context.root,
                context=self.env.context,
                secrets=self.env.secrets,
                ssh=self.env.ssh,
                from_context=lambda ref: self.env.from_context(ref, self.stage.index),
                from_root=lambda ref: self.env.from_root(ref, self.stage.index),
                log=self.env.output,
            )
            created_by = run_step(where, self.state, services)
            if self.env.single_snapshot or self.snapshotter is None:
                self._history(created_by, empty=True)
            else:
                before = self.snapshotter.index
                changes = self.snapshotter.snapshot()
                after = self.snapshotter.index
                changes = drop_touched_dirs(changes, before, after, exact=services.restored)
                self._layer_from(changes, created_by=created_by)
        elif keyword == "FROM":
            raise where.error("FROM inside a stage")
        else:
            raise where.error(f"unknown instruction: {keyword}")
        cache = self.env.step_cache
        if key is not None and cache is not None:
            cache.store(key, self.state, len(self.state.layers) > layers_before, self.env.store)
            self._done(key)
        else:
            self._chain(created_by)

    def _workdir(self, where: Where) -> None:
        """WORKDIR's directories depend on the root; with a cache they are kept locally
        under the step's chained key, so a cached stage needs no root for them either."""
        made, self.state.root = self.state.root, None
        try:
            created_by, _ = workdir_step(where, self.state)  # the config alone
        finally:
            self.state.root = made
        cache = self.env.step_cache
        key = self._local_key(created_by)
        if key is None or cache is None:
            self._make_workdir(created_by)
            self._chain(created_by)
            return
        with cache.lock(key):
            if self._replay(key, local=True):
                return
            added = self._make_workdir(created_by)
            cache.store_local(key, self.state, added, self.env.store)
            self._done(key)

    def _local_key(self, created_by: str) -> StepKey | None:
        """The chained key of a step kept only in the local cache, None without a cache."""
        cache = self.env.step_cache
        if cache is None or self.key is None or self.env.single_snapshot:
            return None
        return cache.chain(self.key, created_by)

    def _make_workdir(self, created_by: str) -> bool:
        """Create the working directory in the root; True when that made a layer."""
        copier = Copier(self._files())
        copier.ensure_dir(self.state.workdir)
        layers_before = len(self.state.layers)
        self._commit(created_by, sorted(copier.created))
        return len(self.state.layers) > layers_before

    def _commit(self, created_by: str, paths: list[str]) -> None:
        """A step that knows what it wrote: a layer of exactly those paths."""
        if self.env.single_snapshot or not paths or self.state.root is None:
            self._history(created_by, empty=True)
            return
        blob = write_layer(
            self.state.root,
            Changes(changed=paths),
            self.env.store,
            compression=self.env.compression,
            level=self.env.compression_level,
            clamp=self.env.epoch,
        )
        if self.snapshotter is not None and self._indexed:
            self.snapshotter.refresh(_tops(paths))
        self._add_layer(
            blob.digest, blob.diff_id, blob.size, blob.media_type, blob.path, blob.compressed
        )
        self._history(created_by, empty=False)

    def _layer_from(
        self, changes: Changes, *, created_by: str = "", mark_last: bool = False
    ) -> None:
        root = self.state.root
        if not changes or root is None:
            if not mark_last:
                self._history(created_by, empty=True)
            return
        blob = write_layer(
            root,
            changes,
            self.env.store,
            compression=self.env.compression,
            level=self.env.compression_level,
            clamp=self.env.epoch,
        )
        self._add_layer(
            blob.digest, blob.diff_id, blob.size, blob.media_type, blob.path, blob.compressed
        )
        if mark_last and self.state.history:
            self.state.history[-1].pop("empty_layer", None)
        elif not mark_last:
            self._history(created_by, empty=False)

    def _add_layer(
        self, digest: str, diff_id: str, size: int, media_type: str, path: Path, compressed: bool
    ) -> None:
        """A layer this stage's root just produced: the root already holds it."""
        self.state.layers.append(LayerRecord(digest, diff_id, size, media_type, path, compressed))
        self.root.written(len(self.state.layers))

    def _history(self, created_by: str, *, empty: bool, created: str | None = None) -> None:
        if created is None and self.env.epoch is not None:
            created = epoch_rfc3339(self.env.epoch)
        self.state.history.append(
            history_entry(created_by, empty_layer=empty, author=self.state.author, created=created)
        )


def drop_touched_dirs(
    changes: Changes, before: Index, after: Index, *, exact: Collection[str] = ()
) -> Changes:
    """Leave out directories whose only change is their ctime, and such paths in ``exact``.

    RUN's sandbox adds and removes mount points (``/etc/resolv.conf`` in an image without
    one) and puts the directory's mtime back; the ctime still moves. Docker's layers do not
    show such a directory, so neither do ours. Any real change (mode, owner, mtime, or an
    entry below it) keeps it. ``exact`` names paths of any type that were moved aside and
    put back unchanged (the chroot mode's stand-in for a mount over an existing file).
    """
    if not changes.changed:
        return changes

    def only_ctime(path: str) -> bool:
        old, new = before.get(path), after.get(path)
        return (
            old is not None
            and new is not None
            and (old[0], old[1], old[3], old[4], old[5]) == (new[0], new[1], new[3], new[4], new[5])
            and (stat.S_ISDIR(new[1]) or (path in exact and old[2] == new[2]))
        )

    # deepest first, so a directory left out does not keep its parent in
    anchors = changes.deleted + changes.opaque
    kept: set[str] = set()
    for path in sorted(changes.changed, key=lambda p: p.count("/"), reverse=True):
        if only_ctime(path) and not any(
            other.startswith(path + "/") for other in (*kept, *anchors)
        ):
            continue
        kept.add(path)
    return Changes(
        changed=[p for p in changes.changed if p in kept],
        deleted=changes.deleted,
        opaque=changes.opaque,
    )


def _tops(paths: list[str]) -> list[str]:
    """The paths not below another one (re-indexing a directory covers its contents)."""
    tops: list[str] = []
    for path in sorted(paths):
        if not tops or not path.startswith(tops[-1] + "/"):
            tops.append(path)
    return tops
