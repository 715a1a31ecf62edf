"""Build or reuse: a :class:`BuildSpec` -> cache key -> a trusted tarball in the image cache.

Per session each key is looked at once (the result, or the failure, is remembered). Across
processes (xdist workers, concurrent runs sharing the cache dir) the key's file lock is
held across lookup, build and publish, so one process builds while the others wait and
then reuse its tarball.

The embedded executor runs in this process (``builder.build.build``): as root it builds
directly, rootless it forks into a user namespace (no interpreter start-up, and a failure
comes back as the builder's own ``BuildError`` with its location, instruction, exit code and
output tail). Its log goes to ``build.log`` beside the tarball.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild.builder import registry, userns
from pytest_imagebuild.builder.build import BuildResult, build
from pytest_imagebuild.builder.cache import LocalCache
from pytest_imagebuild.builder.contexts import NamedContexts
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.plan import Plan, host_platform_string
from pytest_imagebuild.errors import ImageBuildError, Location, RegistryError, UsageError
from pytest_imagebuild.plugin.bases import BaseResolver, image_refs, plan_for
from pytest_imagebuild.plugin.buildkey import (
    build_key,
    context_digest,
    contexts_digests,
    dockerfile_digest,
)
from pytest_imagebuild.plugin.executors import docker_build
from pytest_imagebuild.plugin.imagecache import ImageEntry, ImageStore, staged_tarball
from pytest_imagebuild.plugin.sources import BuildSpec
from pytest_imagebuild.plugin.summary import BUILT, FAILED, REUSED, BuildRecord, pruned_lines

__all__ = ["EXECUTORS", "BuildSettings", "ImageBuilder", "prune_images"]

EXECUTORS = ("embedded", "docker")


@dataclass(frozen=True)
class BuildSettings:
    """Session-wide build options (command line and ini keys)."""

    cache_dir: Path
    no_cache: bool = False
    offline: bool = False
    keep_build_dirs: bool = False
    build_args: tuple[tuple[str, str | None], ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    executor: str = "embedded"
    parity: str | None = None
    """A second executor that builds every spec too; the two images must not differ."""
    parity_ignore: tuple[str, ...] = ()
    """Diff ignore rules for parity runs, on top of the semantic mode's."""
    platform: str | None = None
    skip_dirs: tuple[Path, ...] = ()
    """Directories the test run writes (pytest's cache): never part of a context's key."""
    cleanup_problems: tuple[str, ...] = ()
    """What could not be removed of dead runs' directories while finding ``cache_dir``."""
    cache_max_size: int | None = None
    """Bytes the built images may take; the least recently used beyond it are removed."""
    cache_repo: str | None = None
    """A registry repository (or ``oci:/dir``) of cached layers shared by every machine."""
    started: float = field(default_factory=time.time)
    """When the session began: images used since then are never pruned."""


_SpecId = tuple[
    str, str, str | None, tuple[tuple[str, str], ...], str | None, tuple[tuple[str, str], ...]
]


class ImageBuilder:
    """Builds specs into ``settings.cache_dir``; ``records`` says what happened."""

    def __init__(self, settings: BuildSettings) -> None:
        self.settings = settings
        self.store = ImageStore(settings.cache_dir)
        self.resolver = BaseResolver(
            settings.cache_dir,
            offline=settings.offline,
            options=registry.RegistryOptions(
                mirrors=settings.registry_mirrors,
                insecure_registries=frozenset(settings.insecure_registries),
            ),
        )
        self.records: list[BuildRecord] = []
        self._done: dict[str, ImageEntry] = {}
        self._failed: dict[str, tuple[ImageBuildError, str]] = {}
        self._logs: dict[int, str] = {}
        self._keys: dict[_SpecId, str] = {}
        self._worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        layers = LocalCache(settings.cache_dir / "layers")  # the executor's layer cache
        self.problems = [*settings.cleanup_problems, *self.store.prune_temp(), *layers.reap()]
        """What the reaping of dead builds' directories could not remove (for the summary)."""

    def args_for(self, spec: BuildSpec) -> dict[str, str | None]:
        """Session build args, then the spec's own (marker or parameter) on top."""
        args = dict(self.settings.build_args)
        args.update(spec.build_args)
        return args

    def platform_for(self, spec: BuildSpec) -> str:
        return spec.platform or self.settings.platform or host_platform_string()

    def key(self, spec: BuildSpec) -> str:
        """The content key of ``spec``, computed once per session (the Dockerfile, the
        context and the base digests are read the first time a spec is seen)."""
        ident: _SpecId = (
            str(spec.dockerfile),
            str(spec.context),
            spec.target,
            tuple(sorted(spec.build_args.items())),
            spec.platform,
            tuple(sorted(spec.build_contexts.items())),
        )
        key = self._keys.get(ident)
        if key is None:
            key = self._keys[ident] = self._compute_key(spec)
        return key

    def plan(self, spec: BuildSpec) -> tuple[Plan, NamedContexts]:
        """The builder's plan for ``spec``, with its named contexts applied."""
        platform = self.platform_for(spec)
        named = NamedContexts.parse(spec.build_contexts.items())
        plan = plan_for(spec.dockerfile, self.args_for(spec), spec.target, platform)
        return named.apply(plan, platform)[0], named

    def _compute_key(self, spec: BuildSpec) -> str:
        args = self.args_for(spec)
        platform = self.platform_for(spec)
        plan, named = self.plan(spec)
        memo, skip = (
            self.settings.cache_dir / "memo",
            (self.settings.cache_dir, *self.settings.skip_dirs),
        )
        return build_key(
            dockerfile=dockerfile_digest(spec.dockerfile),
            context=context_digest(spec.context, spec.dockerfile, memo, skip),
            build_args=args,
            # the stage index: no target and the last stage's name build the same image
            target=str(plan.target),
            platform=platform,
            bases=self.resolver.digests(plan, platform),
            executor=self.settings.executor,
            contexts=contexts_digests(named, memo, skip),
        )

    def log_of(self, error: BaseException) -> str | None:
        """The whole build log behind a build failure raised by :meth:`build`."""
        return self._logs.get(id(error))

    def build(self, spec: BuildSpec) -> Path:
        """The tarball for ``spec``: remembered, reused from the cache, or built now."""
        __tracebackhide__ = True
        try:
            key = self.key(spec)
        except ImageBuildError as exc:
            # The Dockerfile or the context is at fault: show the message (it carries the
            # location), not the parser's frames.
            raise _fresh(exc) from None
        entry = self._done.get(key)
        if entry is not None:
            return entry.tarball
        failed = self._failed.get(key)
        if failed is not None:
            raise self._again(*failed)
        started = time.monotonic()
        with self.store.lock(key):
            entry = None if self.settings.no_cache else self.store.get(key)
            if entry is not None:
                self._record(spec, key, REUSED, time.monotonic() - started, entry)
            else:
                entry = self._build(spec, key)
        self._done[key] = entry
        return entry.tarball

    def _again(self, error: ImageBuildError, log: str) -> ImageBuildError:
        again = _fresh(error)
        self._logs[id(again)] = log
        return again

    def _build(self, spec: BuildSpec, key: str) -> ImageEntry:
        __tracebackhide__ = True
        if self.settings.offline:
            self._check_offline(spec)
        started = time.monotonic()
        with self.store.staging() as staged:
            log_path = staged_tarball(staged).with_name("build.log")
            try:
                result = self._execute(spec, key, staged, log_path)
            except ImageBuildError as exc:
                log = log_path.read_text(encoding="utf-8", errors="replace")
                self._keep(staged, key, log)
                self._failed[key] = (exc, log)
                self._record(spec, key, FAILED, time.monotonic() - started, None)
                raise self._again(exc, log) from None
            seconds = time.monotonic() - started
            self._keep(staged, key, None)
            entry = self.store.put(key, staged, seconds=seconds, steps=_steps(result))
        self._record(spec, key, BUILT, seconds, entry, result.skipped if result else ())
        return entry

    def _kept_dir(self, key: str) -> Path:
        return self.settings.cache_dir / "build-dirs" / key[:16]

    def _execute(
        self, spec: BuildSpec, key: str, staged: Path, log_path: Path
    ) -> BuildResult | None:
        name = f"imagebuild/{_tag_name(spec)}:{key[:12]}"
        if self.settings.executor == "docker":
            if spec.build_contexts:
                raise UsageError(
                    f"{spec.dockerfile}: the docker executor cannot build named contexts "
                    f"({', '.join(sorted(spec.build_contexts))}): docker's builder has none",
                    hint="build this image with the embedded executor",
                )
            with log_path.open("w", encoding="utf-8", errors="replace") as log:
                docker_build(spec, self.args_for(spec), name, staged_tarball(staged), log)
            return None
        build_root = staged / "work"
        if self.settings.keep_build_dirs:  # the executor builds where the directory is kept
            build_root = self._kept_dir(key)
            userns.remove_tree(build_root)  # an earlier run's, with files of mapped ids
        options = BuildOptions(
            context=str(spec.context),
            dockerfile=str(spec.dockerfile),
            destinations=(name,),
            build_args=tuple(self.args_for(spec).items()),
            target=spec.target,
            no_push=True,
            tar_path=staged_tarball(staged),
            custom_platform=spec.platform or self.settings.platform,
            registry_mirrors=self.settings.registry_mirrors,
            insecure_registries=self.settings.insecure_registries,
            cache=not self.settings.no_cache,
            cache_dir=self.settings.cache_dir / "layers",
            cache_repo=self.settings.cache_repo,
            cache_copy_layers=True,
            cache_run_layers=True,
            build_root=build_root,
            keep_build_dir=self.settings.keep_build_dirs,
            build_contexts=tuple(spec.build_contexts.items()),
        )
        with (
            log_path.open("w", encoding="utf-8", errors="replace") as log,
            contextlib.redirect_stderr(log),
        ):
            return build(options, verbose=True)

    def _keep(self, staged: Path, key: str, log: str | None) -> None:
        """With keep_build_dirs, the executor's build directory (``imagebuild-*``: stage
        roots, blob store, its log) is already in ``<cache>/build-dirs/<key>``; add the
        plugin's ``build.log`` beside it."""
        if not self.settings.keep_build_dirs:
            return
        kept = self._kept_dir(key)
        kept.mkdir(parents=True, exist_ok=True)
        log_text = staged_tarball(staged).with_name("build.log").read_text(errors="replace")
        (kept / "build.log").write_text(log if log is not None else log_text)

    def _check_offline(self, spec: BuildSpec) -> None:
        plan, _ = self.plan(spec)
        for ref, line in _registry_refs(plan):
            raise RegistryError(
                f"offline: {spec.dockerfile} needs {ref} from a registry, and the image is "
                "not in the cache yet",
                hint="run once without --imagebuild-offline, or base the image on a local "
                "OCI layout (FROM oci:/path)",
                location=Location(str(spec.dockerfile), line),
            )

    def _record(
        self,
        spec: BuildSpec,
        key: str,
        outcome: str,
        seconds: float,
        entry: ImageEntry | None,
        skipped: tuple[str, ...] = (),
    ) -> None:
        self.records.append(
            BuildRecord(
                name=spec.describe() + _executor_note(self.settings.executor),
                key=key,
                outcome=outcome,
                seconds=seconds,
                size=entry.size if entry is not None else 0,
                steps_cached=entry.steps_cached if entry is not None else -1,
                steps_run=entry.steps_run if entry is not None else -1,
                worker=self._worker,
                skipped=skipped,
            )
        )


def prune_images(settings: BuildSettings) -> list[str]:
    """Keep the built images within ``settings.cache_max_size`` (least recently used go
    first, none this session used); returns the summary lines, empty without a bound."""
    if settings.cache_max_size is None:
        return []
    store = ImageStore(settings.cache_dir)
    done = store.prune_lru(settings.cache_max_size, used_before=settings.started)
    return pruned_lines(done.images, done.bytes, done.left, settings.cache_max_size, done.problems)


def _fresh(error: ImageBuildError) -> ImageBuildError:
    """A copy of ``error`` without its traceback, to raise again."""
    again = copy.copy(error)
    again.__traceback__ = None
    return again


def _registry_refs(plan: Plan) -> list[tuple[str, int]]:
    """Images the executor would pull from a registry (pinned by digest or not)."""
    return [(ref, line) for ref, line in image_refs(plan) if not registry.is_layout_source(ref)]


def _steps(result: BuildResult | None) -> tuple[int, int]:
    """(steps from the layer cache, steps run) as the executor reports them, else (-1, -1)."""
    stats = result.cache_stats if result is not None else None
    if stats is None:
        return (-1, -1)
    return (stats.local_hits + stats.remote_hits, stats.misses)


def _executor_note(executor: str) -> str:
    """`` [docker]`` after a summary line of another executor than the embedded one."""
    return "" if executor == "embedded" else f" [{executor}]"


def _tag_name(spec: BuildSpec) -> str:
    words = [spec.dockerfile.parent.name, spec.target or ""]
    text = "-".join(w for w in words if w).lower()
    return re.sub(r"[^a-z0-9._-]+", "-", text).strip("-._") or "image"
