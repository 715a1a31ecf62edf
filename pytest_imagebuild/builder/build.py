"""``build(options) -> BuildResult``: plan, run stages (in parallel when independent), outputs.

The build owns one directory (``options.build_root`` or the system temp dir) holding the
blob store, each stage's root, unpacked ``COPY --from`` images and downloads; it is removed at
the end, including files that belong to mapped ids, unless ``keep_build_dir`` is set (its path
is then printed). It is a live directory (``livedirs``): the build holds a lock on it, and a
later build reaps the directories of builds that died. ``RUN --mount=type=cache``
directories persist in ``<cache dir>/mounts``.
Without root the whole build runs in a user namespace (``userns.run_in_userns``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import sys
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pytest_imagebuild import oci
from pytest_imagebuild.builder import registry, sandbox, userns
from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.cache import (
    CachePolicy,
    LayerCache,
    StepKey,
    default_cache_dir,
    default_cache_repo,
    parse_ttl,
)
from pytest_imagebuild.builder.context import BuildContext, open_context
from pytest_imagebuild.builder.context_lookup import ContextLookup
from pytest_imagebuild.builder.contexts import NamedContexts
from pytest_imagebuild.builder.dockerfile import parse_file
from pytest_imagebuild.builder.fs import IgnoreList, Skipped, unpack_layer
from pytest_imagebuild.builder.fs.overlay import SharedBase
from pytest_imagebuild.builder.fs.rootstore import RootStore
from pytest_imagebuild.builder.livedirs import live_dir, reap_dead
from pytest_imagebuild.builder.log import BuildLog, LogSettings
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.plan import Plan, Stage, host_platform_string, make_plan
from pytest_imagebuild.builder.publish import BuildResult, publish
from pytest_imagebuild.builder.pullpush import pull_options, push_options
from pytest_imagebuild.builder.sharing import plan_sharing
from pytest_imagebuild.builder.steps.caching import StepCache
from pytest_imagebuild.builder.steps.history import epoch_rfc3339, now_rfc3339
from pytest_imagebuild.builder.steps.runner import StageRunner
from pytest_imagebuild.builder.steps.sshagent import SshAgents
from pytest_imagebuild.builder.steps.stageroot import StageRoot
from pytest_imagebuild.builder.steps.state import LayerRecord, StageState
from pytest_imagebuild.builder.warmer import WarmBases
from pytest_imagebuild.errors import ContextError, ImageBuildError, Location

__all__ = ["BuildResult", "build"]

_COMPRESSED = ("gzip", "zstd")
_WORK_PREFIX = "imagebuild-"


@dataclass
class _Done:
    state: StageState
    root: StageRoot  # made only when a step or a later reader needs the files
    key: StepKey | None = None
    steps: int = 0  # instructions run or replayed in this stage (ONBUILD triggers too)

    def files(self) -> Path:
        self.root.ensure(self.state.layers)
        return self.root.path


@dataclass
class _Build:
    """Shared state of one build; implements the StageEnv protocol for stage runners."""

    options: BuildOptions
    plan: Plan
    context: BuildContext
    work_dir: Path
    store: BlobStore
    registries: registry.Registries
    logger: BuildLog
    cache_mounts_dir: Path
    compression: str = "none"
    compression_level: int | None = None
    epoch: int | None = None
    secrets: dict[str, Path] = field(default_factory=dict)
    ssh: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    futures: dict[int, Future[_Done]] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)
    image_digests: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    step_cache: StepCache | None = None
    named: ContextLookup | None = None
    skipped: Skipped = field(default_factory=Skipped)  # what unpacking could not apply
    pull_store: BlobStore | None = None  # the layer cache's blobs: bases downloaded once
    shared: set[str] = field(default_factory=set)  # base images several stages start from
    bases: dict[tuple[str, str], SharedBase] = field(default_factory=dict)
    roots: list[StageRoot] = field(default_factory=list)
    root_store: RootStore | None = None  # with --cache where overlays mount: bases kept

    def __post_init__(self) -> None:
        self.path = self.plan.path
        self.escape = self.plan.escape
        self.single_snapshot = self.options.single_snapshot
        self.ignore = IgnoreList.build(self.options.ignore_paths)

    def log(self, text: str) -> None:
        self.logger.message(text)

    def output(self, text: str) -> None:
        self.logger.output(text)

    # -- bases and --from ----------------------------------------------------------------
    def platform_for(self, stage: Stage | None) -> str:
        if stage is not None and stage.platform:
            return stage.platform
        return self.options.custom_platform or host_platform_string()

    def from_root(self, ref: str, before: int) -> Path:
        named = self.from_context(ref, before)  # a directory --build-context
        if named is not None:
            return named.root
        index = self.plan.stage_for(ref, before)
        if index is not None:
            future = self.futures.get(index)
            if future is None:
                raise ImageBuildError(f"stage {ref!r} is not part of this build")
            return future.result().files()
        if self.named is not None:  # the image a --build-context puts in its place
            ref = self.named.image(ref, self.platform_for(None))
        with self.lock:
            found = self.images.get(ref)
            if found is None:
                pulled = registry.pull(
                    ref, self.store, registries=self.registries, platform=self.platform_for(None)
                )
                found = self.work_dir / "images" / hashlib.sha256(ref.encode()).hexdigest()[:24]
                found.mkdir(parents=True)
                for layer in pulled.layers:
                    unpack_layer(self.store.path(layer.digest), found, skipped=self.skipped)
                self.images[ref] = found
                self.image_digests[ref] = pulled.config_digest
        return found

    def from_key(self, ref: str, before: int) -> str:
        """What ``COPY --from`` contributes to a cache key: the stage's key or image digest."""
        named = self.from_context(ref, before)
        if named is not None and self.named is not None:
            return self.named.digest(named)
        index = self.plan.stage_for(ref, before)
        if index is not None:
            done = self.futures[index].result()
            return done.key.hex if done.key is not None else ""
        self.from_root(ref, before)
        if self.named is not None:
            ref = self.named.image(ref, self.platform_for(None))
        return self.image_digests[ref]

    def from_context(self, ref: str, before: int) -> BuildContext | None:
        """The directory ``--build-context`` that ``--from=ref`` reads, if it is one."""
        if self.named is None:
            return None
        return self.named.directory(ref, before, self.platform_for(None))

    def start_key(
        self, stage: Stage, state: StageState, config_digest: str | None
    ) -> StepKey | None:
        if self.step_cache is None:
            return None
        if stage.base_stage is not None:
            return self.futures[stage.base_stage].result().key
        return self.step_cache.base(config_digest)

    def shared_base(self, stage: Stage, state: StageState) -> SharedBase | None:
        """The one unpacked copy of ``stage``'s base when other stages start from it too."""
        if stage.base_stage is not None:
            return self.futures[stage.base_stage].result().root.base
        if stage.base not in self.shared and self.root_store is None:
            return None
        if stage.base.lower() == "scratch":
            return None
        key = (stage.base, self.platform_for(stage))
        with self.lock:
            if key not in self.bases:
                where = self.work_dir / "bases" / str(len(self.bases))
                self.bases[key] = SharedBase(
                    where,
                    [r.path for r in state.layers],
                    self.log,
                    store=self.root_store,
                    digests=[r.diff_id for r in state.layers],
                    skipped=self.skipped,
                )
            return self.bases[key]

    def start_state(self, stage: Stage) -> tuple[StageState, str | None]:
        build_args = self.options.build_arg_map()
        common = {"build_args": build_args, "meta_args": self.plan.meta_args}
        if stage.base_stage is not None:
            done = self.futures[stage.base_stage].result()
            state = copy.deepcopy(done.state)
            state.build_args, state.meta_args = build_args, self.plan.meta_args
            state.declared, state.used_args, state.cmd_set, state.root = {}, set(), False, None
            return state, None
        if stage.base.lower() == "scratch":
            state = StageState.from_image_config(None, **common)
            plat = oci.Platform.parse(self.platform_for(stage))
            state.os, state.architecture, state.variant = plat.os, plat.architecture, plat.variant
            return state, None
        pulled = registry.pull(
            stage.base,
            self.pull_store or self.store,
            registries=self.registries,
            platform=self.platform_for(stage),
        )
        state = StageState.from_image_config(pulled.config, **common)
        state.media_types = "oci" if pulled.manifest_media_type == oci.OCI_MANIFEST else "docker"
        diff_ids = list((pulled.config.get("rootfs") or {}).get("diff_ids") or [])
        for desc, diff_id in zip(pulled.layers, diff_ids, strict=False):
            state.layers.append(
                LayerRecord(
                    desc.digest,
                    diff_id,
                    desc.size,
                    desc.media_type,
                    self._held(desc.digest),
                    any(desc.media_type.endswith(c) for c in _COMPRESSED),
                )
            )
        return state, pulled.config_digest

    def _held(self, digest: str) -> Path:
        """A base layer as this build holds it: a hard link in the build's store when pulled
        into the cache (a cache prune then cannot take it away mid-build), else the blob."""
        if self.pull_store is None:
            return self.store.path(digest)
        kept, mine = self.pull_store.path(digest), self.store.path(digest)
        try:
            os.link(kept, mine)
        except FileExistsError:
            pass
        except OSError:
            return kept  # another filesystem: read it where it is
        return mine

    def run_stage(self, stage: Stage) -> _Done:
        try:
            state, config_digest = self.start_state(stage)
        except ImageBuildError as exc:
            if exc.location is None:
                exc.location = Location(self.plan.path, stage.from_instruction.start_line)
            raise
        where = self.work_dir / "stages" / str(stage.index)
        root = StageRoot(where, self.log, stage.label, self.shared_base(stage, state), self.skipped)
        with self.lock:
            self.roots.append(root)
        key = self.start_key(stage, state, config_digest)
        runner = StageRunner(stage, state, self, root, key=key)
        runner.run()
        return _Done(state, root, runner.key, runner.steps)


def _find_dockerfile(name: str | None, context: BuildContext) -> Path:
    """A ``--dockerfile`` as given (absolute or from the current directory), then in the
    context; without one, the context's own ``Dockerfile`` (never the current directory's)."""
    if name is None:
        found = context.root / "Dockerfile"
        if found.is_file():
            return found
        raise ContextError(
            f"no Dockerfile in the context {context.root}",
            hint="add one, or name it with --dockerfile",
        )
    given = Path(name)
    if given.is_file():
        return given.absolute()
    inside = context.root / name
    if inside.is_file():
        return inside
    raise ContextError(
        f"Dockerfile {name!r} not found (tried {given.absolute()} and {inside})",
        hint="--dockerfile is relative to the current directory or to the context",
    )


def _schedule(b: _Build, wanted: list[int]) -> None:
    workers = b.options.jobs or max(1, min(4, len(wanted)))
    pending = {i: b.plan.stages[i] for i in wanted}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stage") as pool:
        running: set[Future[_Done]] = set()
        while pending or running:
            for index, stage in list(pending.items()):
                deps = [d for d in stage.deps if d in b.futures or d in pending]
                if all(d in b.futures and b.futures[d].done() for d in deps):
                    b.futures[index] = pool.submit(b.run_stage, stage)
                    running.add(b.futures[index])
                    del pending[index]
            if not running:
                if pending:
                    raise ImageBuildError("stage dependencies form a cycle")
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                future.result()


def _build_here(options: BuildOptions, stdin: BinaryIO | None, log: LogSettings) -> BuildResult:
    base = options.build_root or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    for problem in reap_dead(base, _WORK_PREFIX):  # directories of builds that died
        sys.stderr.write(f"imagebuild: could not remove a dead build's files: {problem}\n")
    with live_dir(base, _WORK_PREFIX, keep=options.keep_build_dir) as work:
        return _build_in(work, options, stdin, log)


def _build_in(
    work: Path, options: BuildOptions, stdin: BinaryIO | None, settings: LogSettings
) -> BuildResult:
    # a kept build directory has its own copy of the log, at every level
    kept_log = (work / "build.log").open("a", encoding="utf-8") if options.keep_build_dir else None
    logger = BuildLog(settings, sys.stderr, kept_log)
    try:
        with logger.capturing():
            return _run(work, options, stdin, logger)
    finally:
        if kept_log is not None:
            kept_log.close()
            sys.stderr.write(f"imagebuild: build directory kept: {work}\n")
            sys.stderr.flush()


def _run(
    work: Path, options: BuildOptions, stdin: BinaryIO | None, logger: BuildLog
) -> BuildResult:
    context = open_context(options.context, None, work, stdin=stdin)
    dockerfile = _find_dockerfile(options.dockerfile, context)
    context = context.with_dockerfile(dockerfile)
    parsed = parse_file(dockerfile)
    logger.message(f"imagebuild: sandbox: {sandbox.probe().describe()}")
    plat = options.custom_platform or host_platform_string()
    plan = make_plan(
        parsed, build_args=options.build_arg_map(), target=options.target, target_platform=plat
    )
    named = NamedContexts.parse(options.build_contexts)
    plan, replaced = named.apply(plan, plat)
    pushing = bool(options.destinations) and not options.no_push
    with (
        registry.Registries(pull_options(options)) as regs,
        registry.Registries(push_options(options)) as pushes,
        SshAgents(options.ssh, work) as agents,
    ):
        cache_root = options.cache_dir or default_cache_dir()
        if options.cache:  # kaniko's base-image cache, filled by ``imagebuild warm``
            regs.base_lookup = WarmBases(cache_root, parse_ttl(options.cache_ttl)).lookup
        b = _Build(
            options,
            plan,
            context,
            work,
            BlobStore(work / "store"),
            regs,
            logger,
            cache_root / "mounts",
            compression=options.compression or ("gzip" if pushing else "none"),
            compression_level=options.compression_level,
            epoch=options.source_date_epoch,
            secrets=dict(options.secrets),
            ssh=agents.sockets,
            labels=options.label_map(),
            named=ContextLookup(named, plan, replaced, work) if named else None,
        )
        cache = _open_cache(options, cache_root, pushes, plat) if options.cache else None
        if cache is not None:
            b.step_cache = StepCache(
                cache, plat, context, epoch=options.source_date_epoch, encoding=_encoding(options)
            )
            b.pull_store = cache.blobs
        wanted = plan.required(skip_unused=options.skip_unused_stages)
        b.shared, b.root_store = plan_sharing(
            options, plan, wanted, cache_root if cache is not None else None, work, logger.message
        )
        try:
            _schedule(b, wanted)
        finally:
            for root in b.roots:
                root.release()
            if b.root_store is not None:
                b.root_store.close()
            if cache is not None:
                cache.close()
        done = b.futures[plan.target].result()
        final = done.state
        for line in b.skipped.lines():
            logger.message(f"imagebuild: {line}", "warn")
        names = tuple(plan.stages[i].label for i in sorted(b.futures))
        created = options.created or _created(done, options.source_date_epoch)
        result = publish(options, final, created, names, b.store, pushes)
        result = dataclasses.replace(result, skipped=tuple(b.skipped.lines()))
        if cache is None:
            return result
        return dataclasses.replace(result, cache_stats=cache.stats)


def _encoding(options: BuildOptions) -> str | None:
    """What cached layers must be encoded as: only an explicit ``--compression`` says so."""
    if options.compression is None:
        return None
    return f"{options.compression}:{options.compression_level}"


def _created(done: _Done, epoch: int | None) -> str:
    """The image's time: ``SOURCE_DATE_EPOCH`` when given; else its last step's, as docker's
    builder dates an image by its last commit (so an unchanged rebuild, all from the cache,
    is the same image); now when the stage ran no instruction of its own."""
    if epoch is not None:
        return epoch_rfc3339(epoch)
    last = done.state.history[-1].get("created") if done.state.history else None
    if done.steps and isinstance(last, str):
        return last
    return now_rfc3339()


def _open_cache(
    options: BuildOptions, cache_root: Path, regs: registry.Registries, plat: str
) -> LayerCache:
    """kaniko's cache flags; the shared cache defaults to ``<first destination>/cache``."""
    repo = options.cache_repo
    if repo is None and options.destinations and not options.no_push:
        repo = default_cache_repo(options.destinations[0])
    policy = CachePolicy(
        run_layers=options.cache_run_layers,
        copy_layers=options.cache_copy_layers,
        ttl=parse_ttl(options.cache_ttl),
        no_push_cache=options.no_push_cache,
    )
    return LayerCache.open(
        cache_root,
        policy=policy,
        repo=repo,
        registries=regs,
        platform=plat,
    )


def build(
    options: BuildOptions,
    *,
    stdin: BinaryIO | None = None,
    verbose: bool = True,
    log: LogSettings | None = None,
) -> BuildResult:
    """Build ``options``; raises ImageBuildError subclasses with locations and hints.

    ``log`` sets the level and format of what reaches standard error (default: plain
    messages, or errors only when ``verbose`` is false)."""
    settings = log or LogSettings(level="info" if verbose else "error")
    if os.geteuid() == 0:
        return _build_here(options, stdin, settings)
    return userns.run_in_userns(_build_here, options, stdin, settings)
