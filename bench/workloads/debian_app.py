"""Build (1): a Debian-based app, ~500 source files, useradd and chown (issue 3)."""

from __future__ import annotations

from pathlib import Path

import bases
import gen
from buildside import Row, build_rows
from infra import Env

NAME = "debian-app"
GOAL = "<= 0.8x buildah"


def prepare(env: Env) -> tuple[Path, Path, str]:
    """The context and Dockerfile (also the small read-side image); returns the base ref."""
    base = bases.debian(env)
    ctx = env.work / "debian-app"
    gen.source_tree(ctx / "src", 500)
    dockerfile = gen.blank(
        ctx / "Dockerfile",
        f"""FROM {base}
RUN useradd --create-home --uid 1000 --shell /bin/sh app
COPY src /opt/app
RUN chown -R app:app /opt/app && chmod 0755 /opt/app/start.sh
ENV APP_HOME=/opt/app
USER app
WORKDIR /opt/app
CMD ["/opt/app/start.sh"]
""",
    )
    return ctx, dockerfile, base


def rows(env: Env) -> list[Row]:
    ctx, dockerfile, base = prepare(env)
    return build_rows(env, NAME, ctx, dockerfile, [base], GOAL)
