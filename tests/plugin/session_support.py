"""Pytest sessions run as subprocesses on a small build project, for the concurrency and
hygiene tests: start them, find their builds, and list what they leave behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.builder.crash_support import descendants_named, mounts_under, wait_gone

__all__ = [
    "RECORD",
    "descendants_named",
    "mounts_under",
    "run_session",
    "tmp_leftovers",
    "wait_for_run",
    "wait_gone",
]

RECORD = """
import hashlib
import json
import os
import pathlib

import pytest


def _content(image):
    files = sorted(
        (f.path, f.type, int(f.mode), f.uid, f.gid, f.size if f.is_file else 0, f.sha256,
         f.linked_to)
        for f in image.walk()
    )
    body = [files, image.env, image.cmd, [h.created_by for h in image.history]]
    return hashlib.sha256(json.dumps(body, default=str).encode()).hexdigest()


@pytest.mark.parametrize("name", ["a", "b"])
@pytest.mark.parametrize("n", range(2))
def test_record(image_factory, name, n):
    image = image_factory.build("Dockerfile." + name, context=".")
    out = pathlib.Path(os.environ["RECORD_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}-{n}").write_text(_content(image))
"""


def run_session(
    cwd: Path, *args: str | Path, tmpdir: Path, record: Path | None = None
) -> subprocess.Popen[str]:
    """``pytest -p no:cacheprovider ARGS`` in its own session, with its own TMPDIR."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update(TMPDIR=str(tmpdir), RECORD_DIR=str(record or tmpdir.parent / "record"))
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_run(proc: subprocess.Popen[str], timeout: float = 90) -> int:
    """The pid of the process whose child is a RUN's ``sleep``, once one is running."""
    deadline = time.monotonic() + timeout
    while not (found := descendants_named(proc.pid, "sleep")):
        if proc.poll() is not None:
            raise AssertionError("the session ended before a RUN started:\n" + _out(proc))
        if time.monotonic() > deadline:
            raise AssertionError("no RUN started")
        time.sleep(0.02)
    return found[0]


def _out(proc: subprocess.Popen[str]) -> str:
    return proc.communicate(timeout=30)[0]


def tmp_leftovers(tmpdir: Path) -> list[str]:
    """What is in a session's TMPDIR besides pytest's own ``pytest-of-<user>`` base
    directories (which pytest itself keeps three of and reaps)."""
    return sorted(p.name for p in tmpdir.iterdir() if not p.name.startswith("pytest-of-"))
