"""Build (3): COPY of 20k files, ~400 MB, onto busybox (2k / 40 MB with --quick)."""

from __future__ import annotations

import bases
import gen
from buildside import Row, build_rows
from infra import Env

NAME = "copy-20k"
GOAL = "<= 0.5x buildah"


def rows(env: Env) -> list[Row]:
    base = bases.busybox(env)
    scale = 10 if env.quick else 1
    ctx = env.work / ("copy-20k-quick" if env.quick else "copy-20k")
    gen.file_tree(ctx / "tree", 20_000 // scale, (400 << 20) // scale, seed=21)
    dockerfile = gen.blank(ctx / "Dockerfile", f"FROM {base}\nCOPY tree /data\n")
    return build_rows(env, NAME, ctx, dockerfile, [base], GOAL)
