"""Build (issue 10): four Debian-based stages, one of them unused, three that each write
48 MB and sleep 2 s, and a final Debian stage copying from those three. Every stage starts
from the same base: unpacking it once per stage, in parallel, is what this measures."""

from __future__ import annotations

import bases
import gen
from buildside import Row, build_rows
from infra import Env

NAME = "multi-stage"
GOAL = "<= 0.8x BuildKit"


def rows(env: Env) -> list[Row]:
    base = bases.debian(env)
    size = (48 << 20) // (10 if env.quick else 1)
    writers = ("one", "two", "three")
    stages = "".join(
        f"FROM {base} AS {name}\nRUN head -c {size} /dev/urandom > /blob && sleep 2\n\n"
        for name in writers
    )
    unused = f"FROM {base} AS unused\nRUN head -c {size} /dev/urandom > /blob && sleep 2\n\n"
    final = "".join(f"COPY --from={name} /blob /{name}.bin\n" for name in writers)
    ctx = env.work / "multi-stage"
    dockerfile = gen.blank(ctx / "Dockerfile", f"{stages}{unused}FROM {base}\n{final}")
    return build_rows(env, NAME, ctx, dockerfile, [base], GOAL, peak_goal="peak < 150 MB")
