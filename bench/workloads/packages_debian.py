"""Installed packages of the Debian minbase (``docker save``): ``image.packages`` timed
alone in a fresh interpreter, after an open with a warm index cache."""

from __future__ import annotations

import shutil

import bases
import readside
from buildside import Row
from infra import Env

NAME = "packages-debian"


def rows(env: Env) -> list[Row]:
    tarball = bases.saved(env, bases.debian(env), env.work / "packages-debian.tar")
    cache = env.work / "index-cache-packages-debian"
    shutil.rmtree(cache, ignore_errors=True)
    readside._measure("packages", tarball, cache, 1, key="packages")  # fills the cache
    result, info = readside._measure("packages", tarball, cache, env.runs, key="packages")
    return [
        {
            "workload": NAME,
            "measure": "list packages",
            "tool": "Image.packages",
            "result": result,
            "goal": "< 0.2 s",
            "note": f"{info.get('count', '?')} packages" if info else "",
        }
    ]
