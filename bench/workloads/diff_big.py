"""Diff: the 67k-file base against it plus big-runs' eight RUNs (both ``docker save``d).

``imagebuild diff`` opens, indexes and compares both tarballs in one process; the
reference exports both images with docker, extracts them with tar and compares the trees
in plain Python (bench/treediff.py).
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
    # exit 1 means "different", the expected answer here: the shell turns it into success
    command = " ".join(
        shlex.quote(part) for part in [*imagebuild_command(), "diff", str(a), str(b)]
    )
    check = ["sh", "-c", f"{command} > /dev/null; test $? -eq 1"]
    ours = _runs(check, env.runs, env.docker.env())
    scratch = str(env.work / "treediff-scratch")
    theirs = _runs([sys.executable, TREEDIFF, base, tag, scratch], env.runs, env.docker.env())
    return [
        {"workload": NAME, "measure": "diff", "tool": "imagebuild diff", "result": ours,
         "goal": GOAL, "versus": ["export+tar+python"]},
        {"workload": NAME, "measure": "diff", "tool": "export+tar+python", "result": theirs,
         "goal": ""},
    ]  # fmt: skip
