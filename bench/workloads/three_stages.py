"""Build (4): three independent stages each write 48 MB and sleep 2 s; a final stage
copies from each. Run serially that is over 6 s of sleep alone; in parallel about 2 s."""

from __future__ import annotations

import bases
import gen
from buildside import Row, build_rows
from infra import Env

NAME = "three-stages"
GOAL = "< 6 s, <= 0.8x buildah"


def rows(env: Env) -> list[Row]:
    base = bases.busybox(env)
    size = 48 << 20
    stages = "".join(
        f"FROM {base} AS {name}\nRUN head -c {size} /dev/urandom > /blob && sleep 2\n\n"
        for name in ("one", "two", "three")
    )
    final = "".join(f"COPY --from={name} /blob /{name}.bin\n" for name in ("one", "two", "three"))
    ctx = env.work / "three-stages"
    dockerfile = gen.blank(ctx / "Dockerfile", f"{stages}FROM {base}\n{final}")
    return build_rows(env, NAME, ctx, dockerfile, [base], GOAL)
