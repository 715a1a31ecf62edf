"""Warm-build rows: each tool with its own cache, three builds in a row per run.

Per run and tool, with a fresh cache: the first (cold) build, the unchanged rebuild, and the
rebuild after the Dockerfile's last RUN changed. imagebuild keeps ``--cache --cache-dir``
(and the same ``TMPDIR``) across the three, buildah its storage with ``--layers``, docker
its images (the legacy builder's cache); every build ends in a docker-archive tarball, as
in the cold rows. BuildKit (where ``buildkitd`` is on PATH) keeps one daemon and its state
across the three. imagebuild also rebuilds unchanged into an OCI layout (no tarball), the
issue's "under 1 s" row.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import buildkit
from dockerbuild import DOCKER
from infra import Env
from tools import (
    BUILDAH,
    Result,
    Sample,
    ToolError,
    buildah_build_and_save,
    checkout_env,
    fresh_dir,
    imagebuild_command,
    timed,
)

Row = dict[str, object]
MEASURES = ("first (cold)", "unchanged", "last RUN changed")
OCI_MEASURE = "unchanged, OCI layout"


def _imagebuild(scratch: Path) -> Callable[[Path, Path, str], Sample]:
    cache = scratch / "cache"
    env = checkout_env(XDG_CACHE_HOME=str(scratch / "xdg"), TMPDIR=str(scratch))

    def run(context: Path, dockerfile: Path, out: str) -> Sample:
        target = ["--tar-path", str(scratch / "out.tar")]
        if out == "oci":
            shutil.rmtree(scratch / "layout", ignore_errors=True)
            target = ["--oci-layout-path", str(scratch / "layout")]
        cmd = [
            *imagebuild_command(),
            "--context",
            str(context),
            "--dockerfile",
            str(dockerfile),
            "--no-push",
            "--cache",
            "--cache-dir",
            str(cache),
            *target,
        ]
        return timed(cmd, env=env)[0]

    return run


def _buildah(scratch: Path) -> Callable[[Path, Path, str], Sample]:
    store = ["--root", str(scratch / "root"), "--runroot", str(scratch / "run")]

    def run(context: Path, dockerfile: Path, out: str) -> Sample:
        tar = scratch / "out.tar"
        tar.unlink(missing_ok=True)
        return buildah_build_and_save(store, context, dockerfile, tar, layers=True)

    return run


def _docker(env: Env, scratch: Path) -> Callable[[Path, Path, str], Sample]:
    tag = f"bench-out/{scratch.name}:1"

    def run(context: Path, dockerfile: Path, out: str) -> Sample:
        tracked = env.docker.reset_peak()
        build, _ = timed(
            [DOCKER, "build", "--quiet", "-t", tag, "-f", str(dockerfile), str(context)],
            env=env.docker.env(),
        )
        save, _ = timed([DOCKER, "save", "-o", str(scratch / "out.tar"), tag], env=env.docker.env())
        peak = env.docker.daemon_peak() if tracked else 0
        return Sample(build.seconds + save.seconds, peak)

    return run


def _buildkit(kit: buildkit.BuildKit, scratch: Path) -> Callable[[Path, Path, str], Sample]:
    def run(context: Path, dockerfile: Path, out: str) -> Sample:
        return kit.build(context, dockerfile, scratch / "out.tar")

    return run


def _cleanup(env: Env, name: str, scratch: Path) -> None:
    if name == "buildah":
        store = ["--root", str(scratch / "root"), "--runroot", str(scratch / "run")]
        subprocess.run([BUILDAH, *store, "rmi", "--all", "--force"], capture_output=True)
    if name == "docker":  # the tag, its chain of intermediate images, the older final's
        tag = f"bench-out/{scratch.name}:1"
        for cmd in (["rmi", "--force", tag], ["image", "prune", "--force"]):
            subprocess.run([DOCKER, *cmd], capture_output=True, env=env.docker.env())


def warm_rows(
    env: Env,
    label: str,
    context: Path,
    dockerfile: str,
    changed: str,
    bases: list[str],
    goal: str,
) -> list[Row]:
    """Rows for ``dockerfile`` built three times per tool; ``changed`` differs in its last RUN."""
    tools = ("imagebuild", "buildah", "docker", "BuildKit")
    results = {(t, m): Result() for t in tools for m in (*MEASURES, OCI_MEASURE)}
    absent = buildkit.missing()
    for m in MEASURES:
        results[("BuildKit", m)].error = absent
    for i in range(env.runs):
        for name in tools:
            if name == "BuildKit" and absent is not None:
                continue
            scratch = fresh_dir(env.work / "scratch", f"{label}-{name}-{i}")
            daemon = contextlib.ExitStack()
            if name == "docker":
                env.docker.remove_images(bases)
                runner = _docker(env, scratch)
            elif name == "BuildKit":
                try:
                    kit = daemon.enter_context(buildkit.BuildKit(scratch, env.registry))
                    runner = _buildkit(kit, scratch)
                except ToolError as exc:
                    results[("BuildKit", MEASURES[0])].error = str(exc)
                    continue
            else:
                runner = _imagebuild(scratch) if name == "imagebuild" else _buildah(scratch)
            first = context / "Dockerfile"
            second = context / "Dockerfile.changed"
            first.write_text(dockerfile)
            second.write_text(changed)
            plan = [("first (cold)", first, "tar"), ("unchanged", first, "tar")]
            if name == "imagebuild":
                plan.append((OCI_MEASURE, first, "oci"))
            plan.append(("last RUN changed", second, "tar"))
            try:
                for measure, df, out in plan:
                    result = results[(name, measure)]
                    if result.error is not None:
                        break
                    os.sync()
                    try:
                        result.samples.append(runner(context, df, out))
                    except ToolError as exc:
                        result.error = str(exc)
                        break
            finally:
                daemon.close()
                _cleanup(env, name, scratch)
                shutil.rmtree(scratch, ignore_errors=True)
    rows: list[Row] = []
    for measure in (*MEASURES, OCI_MEASURE):
        for name in tools:
            if measure == OCI_MEASURE and name != "imagebuild":
                continue
            row: Row = {"workload": label, "measure": f"warm: {measure}", "tool": name}
            row.update(result=results[(name, measure)], goal="")
            if name in ("docker", "BuildKit"):
                results[(name, measure)].peak_note = "dockerd" if name == "docker" else "buildkitd"
            if name == "imagebuild":
                row.update(
                    goal=goal if measure != OCI_MEASURE else "< 1 s",
                    versus=["buildah", "docker", "BuildKit"] if measure != OCI_MEASURE else [],
                )
            rows.append(row)
    return rows
