"""Warm builds (issue 10): the eight-RUN workload on the 700 MB / 67k-file base, each tool
with its own cache: cold, unchanged rebuild, rebuild after the last RUN changed."""

from __future__ import annotations

import bases
from infra import Env
from warm import Row, warm_rows

from workloads.big_runs import RUNS

NAME = "big-runs-warm"
GOAL = "<= 0.5x BuildKit"


def rows(env: Env) -> list[Row]:
    base = bases.big(env)
    ctx = env.work / "big-runs-warm"
    ctx.mkdir(parents=True, exist_ok=True)
    first = f"FROM {base}\n{RUNS}"
    last = RUNS.rstrip("\n").rsplit("\n", 1)[-1]
    changed = first.replace(last, "RUN echo nine > /tmp/nine && rm /etc/one")
    return warm_rows(env, NAME, ctx, first, changed, [base], GOAL)
