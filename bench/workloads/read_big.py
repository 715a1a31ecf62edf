"""Read (b): the 700 MB / 67k-file image, from ``docker save`` and with gzip layers."""

from __future__ import annotations

import bases
import readside
from buildside import Row
from infra import Env
from ocilayout import gzip_layout

NAME = "read-big"
GOALS = {
    "index": "< 2 s; peak < 150 MB",
    "reopen": "< 0.5 s; peak < 150 MB",
    "query": "< 10 ms; peak < 150 MB",
}


def rows(env: Env) -> list[Row]:
    ref = bases.big(env)
    tarball = bases.saved(
        env, ref, env.work / ("read-big-quick.tar" if env.quick else "read-big.tar")
    )
    out = readside.index_rows(NAME, tarball, env.work, env.runs, GOALS)
    layout, blobs = gzip_layout(tarball, env.work / (tarball.stem + "-gzip-oci"))
    out += readside.gzip_rows(NAME, layout, blobs, env.runs, "<= 1.3x gzip|tar -t")
    return out
