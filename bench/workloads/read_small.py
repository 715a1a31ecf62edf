"""Read (a): a small image, Debian minbase plus an app (~7k files), from ``docker save``."""

from __future__ import annotations

import bases
import readside
from buildside import Row
from infra import Env

from workloads import debian_app

NAME = "read-small"


def rows(env: Env) -> list[Row]:
    ctx, dockerfile, _ = debian_app.prepare(env)
    tag = "bench-local/debian-app:1"
    if not env.docker.has_image(tag):
        env.docker.cmd("build", "--quiet", "-t", tag, "-f", str(dockerfile), str(ctx), timeout=3600)
    tarball = bases.saved(env, tag, env.work / "read-small.tar")
    return readside.index_rows(NAME, tarball, env.work, env.runs, {})
