"""Which stage bases a build shares through overlays, and whether it keeps them across builds.

Decided once, in the build's own thread, before any stage thread starts: the mount
namespace made here (``private_mounts``) is inherited by the threads and processes started
after it, so every stage sees every other stage's overlay roots.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.builder.fs.overlay import private_mounts
from pytest_imagebuild.builder.fs.rootstore import RootStore
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.plan import Plan

__all__ = ["plan_sharing", "shared_bases"]


def shared_bases(plan: Plan, wanted: list[int]) -> set[str]:
    """Base images that more than one of the ``wanted`` stages start from (directly, or
    through a stage they are based on)."""
    count: dict[str, int] = {}
    for index in wanted:
        stage = plan.stages[index]
        while stage.base_stage is not None:
            stage = plan.stages[stage.base_stage]
        if stage.base.lower() != "scratch":
            count[stage.base] = count.get(stage.base, 0) + 1
    return {base for base, n in count.items() if n > 1}


def plan_sharing(
    options: BuildOptions,
    plan: Plan,
    wanted: list[int],
    cache_dir: Path | None,
    work_dir: Path,
    log: Callable[[str], None],
) -> tuple[set[str], RootStore | None]:
    """(bases to share within the build, the root store or None). ``cache_dir`` is the
    layer cache's directory, None without ``--cache``. Nothing is shared where overlays
    cannot mount, nor with ``--keep-build-dir`` (its stage directories show whole roots)."""
    if options.keep_build_dir:
        return set(), None
    shared = shared_bases(plan, wanted)
    storing = cache_dir is not None and options.root_store_size > 0
    if not (shared or storing):
        return set(), None
    if sandbox.probe().kind != "namespaces" or not private_mounts():
        return set(), None  # every stage unpacks its own base
    store = None
    if cache_dir is not None and storing:
        store = RootStore.open(cache_dir / "roots", options.root_store_size, log)
    if store is not None and os.stat(store.root).st_dev != os.stat(work_dir).st_dev:
        # an overlay's lower and upper must share a filesystem (inode numbers, st_dev)
        log(f"root store {store.root}: not used: another filesystem than {work_dir}\n")
        store = None
    return shared, store
