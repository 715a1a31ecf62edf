"""Diff: the 67k-file base against it plus big-runs' eight RUNs (both ``docker save``d).

``imagebuild diff`` opens, indexes and compares both tarballs in one process: once with the
layer indexes kept from an earlier diff (``--index-cache``, as a CI job that diffs against
the same base again), once indexing every layer (``--no-index-cache``). The reference
exports both images with docker, extracts them with tar and compares the trees in plain
Python (bench/treediff.py).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import bases
import gen
from buildside import Row
from infra import Env
from tools import Result, ToolError, imagebuild_command, timed

from workloads.big_runs import RUNS

NAME = "diff-big"
GOAL = "< 2 s; peak < 200 MB (diff of indexed images)"
TREEDIFF = str(Path(__file__).resolve().parents[1] / "treediff.py")


def _runs(cmd: list[str], runs: int, env: dict[str, str]) -> Result:
    result = Result()
    try:
        for _ in range(runs):
            sample, _ = timed(cmd, env=env)
            result.samples.append(sample)
    except ToolError as exc:
        result.error = str(exc)
    return result


def rows(env: Env) -> list[Row]:
    base = bases.big(env)
    ctx = env.work / "diff-big"
    gen.blank(ctx / "Dockerfile", f"FROM {base}\n{RUNS}")
    tag = "bench-local/diff-big:1"
    env.docker.cmd("build", "--quiet", "--force-rm", "-t", tag, str(ctx), timeout=3600)
    stem = "quick" if env.quick else "full"
    a = bases.saved(env, base, env.work / f"diff-big-a-{stem}.tar")
    b = bases.saved(env, tag, env.work / f"diff-big-b-{stem}.tar")
    index = env.work / "diff-big-index"
    cold = _runs(_check(a, b, "--no-index-cache"), env.runs, env.docker.env())
    _runs(_check(a, b, "--index-cache", str(index)), 1, env.docker.env())  # fills the index
    warm = _runs(_check(a, b, "--index-cache", str(index)), env.runs, env.docker.env())
    scratch = str(env.work / "treediff-scratch")
    theirs = _runs([sys.executable, TREEDIFF, base, tag, scratch], env.runs, env.docker.env())
    return [
        {"workload": NAME, "measure": "diff", "tool": "imagebuild diff", "result": warm,
         "note": "layers indexed before", "goal": GOAL, "versus": ["export+tar+python"]},
        {"workload": NAME, "measure": "diff", "tool": "imagebuild diff --no-index-cache",
         "result": cold, "goal": "", "versus": ["export+tar+python"]},
        {"workload": NAME, "measure": "diff", "tool": "export+tar+python", "result": theirs,
         "goal": ""},
    ]  # fmt: skip


def _check(a: Path, b: Path, *options: str) -> list[str]:
    """``imagebuild diff A B``; its exit 1 ("different", the expected answer here) is
    turned into success by the shell."""
    command = " ".join(
        shlex.quote(part) for part in [*imagebuild_command(), "diff", *options, str(a), str(b)]
    )
    return ["sh", "-c", f"{command} > /dev/null; test $? -eq 1"]
