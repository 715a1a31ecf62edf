"""Build-side rows: the same context and Dockerfile built by imagebuild, buildah, docker and
BuildKit (where ``buildkitd`` is on PATH; buildkit.py).

Runs interleave the tools (imagebuild, buildah, docker, BuildKit, imagebuild, ...) so a
drift in the machine's speed touches all of them alike. Each run gets a fresh scratch directory:
fresh buildah storage, fresh cache and temp dirs for imagebuild, and for docker the
base images are removed first so every builder pulls them from the loopback registry.
Dirty pages are synced before each run. A tool that fails keeps its error for the table
and is not run again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import buildkit
from infra import Env
from tools import Result, Sample, ToolError, fresh_dir, run_buildah, run_imagebuild

Row = dict[str, object]


def build_rows(
    env: Env,
    label: str,
    context: Path,
    dockerfile: Path,
    bases: Sequence[str],
    goal: str,
    peak_goal: str = "peak < 250 MB",
) -> list[Row]:
    def docker(ctx: Path, df: Path, scratch: Path) -> Sample:
        return env.docker.run_build(ctx, df, scratch, bases)

    def kit(ctx: Path, df: Path, scratch: Path) -> Sample:
        return buildkit.build_once(ctx, df, scratch, env.registry)

    tools: dict[str, Callable[[Path, Path, Path], Sample]] = {
        "imagebuild": run_imagebuild,
        "buildah": run_buildah,
        "docker": docker,
        "BuildKit": kit,
    }
    results = {name: Result() for name in tools}
    results["docker"].peak_note = "dockerd"
    results["BuildKit"].peak_note = "buildkitd"
    results["BuildKit"].error = buildkit.missing()
    for i in range(env.runs):
        for name, run in tools.items():
            result = results[name]
            if result.error is not None:
                continue
            scratch = fresh_dir(env.work / "scratch", f"{label}-{name}-{i}")
            os.sync()  # the previous tool's dirty pages are written back before the clock starts
            try:
                result.samples.append(run(context, dockerfile, scratch))
                kept = env.work / "out" / f"{label}-{name}.tar"
                kept.parent.mkdir(exist_ok=True)
                (scratch / "out.tar").replace(kept)
            except ToolError as exc:
                result.error = str(exc)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    rows: list[Row] = []
    for name, result in results.items():
        row: Row = {"workload": label, "measure": "build + tarball", "tool": name}
        row.update(result=result, goal="")
        if result.error is None:
            row["note"] = summary(env.work / "out" / f"{label}-{name}.tar")
        if name == "imagebuild":
            row.update(goal=f"{goal}; {peak_goal}", versus=["buildah", "docker", "BuildKit"])
        rows.append(row)
    return rows


def summary(tarball: Path) -> str:
    """Untimed check that the output is an image: layer and path counts of its last run."""
    try:
        from pytest_imagebuild.image import Image

        with Image.open(tarball) as image:
            paths = sum(1 for _ in image.walk())
            return f"{len(image.layers)} layers, {paths} paths"
    except Exception as exc:
        return f"unverified: {type(exc).__name__}: {str(exc)[:80]}"
