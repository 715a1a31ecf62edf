"""Issue 4: a 200-test module over the three images of the example project.

A fresh copy of ``example_project/`` (bench/examplesuite.py) gets a module of 200 tests
in three classes, one per Dockerfile target (``local-busybox``, ``build``, ``final``),
each marked ``@pytest.mark.dockerfile("../Dockerfile", target=...)`` and using the
``image`` fixture. Measured per run: pytest's own start-up (200 plain tests in the same
project, and collecting the image module with ``--co``), the first run (no pytest cache,
so no build cache), the unchanged second run, and the run after one page of the site
changes. The plugin's terminal summary gives the images built and the steps cached/run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import examplesuite
from buildside import Row
from infra import Env
from tools import Result, ToolError, pytest_argv, timed

NAME = "pytest-suite"
REPO = Path(__file__).resolve().parent.parent.parent
FIRST, SECOND, CHANGED = "first run", "unchanged second run", "after one source change"
PLAIN, COLLECT = "pytest start-up, 200 plain tests", "pytest --co of the image module"
MODULE = "tests/test_bench.py"


def _env() -> dict[str, str]:
    """The checkout under test first on the path, whatever copy is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def rows(env: Env) -> list[Row]:
    root = examplesuite.prepare(env.work)
    run_env = _env()
    results = {name: Result() for name in (PLAIN, COLLECT, FIRST, SECOND, CHANGED)}
    notes: dict[str, list[str]] = {name: [] for name in (FIRST, SECOND, CHANGED)}
    commands = {
        PLAIN: pytest_argv("tests/test_plain.py"),
        COLLECT: pytest_argv("--co", MODULE),
        FIRST: pytest_argv(MODULE),
        SECOND: pytest_argv(MODULE),
        CHANGED: pytest_argv(MODULE),
    }
    for i in range(env.runs):
        shutil.rmtree(root / ".pytest_cache", ignore_errors=True)
        for name, cmd in commands.items():
            if name == CHANGED:
                examplesuite.change_source(root, i + 1)
            result = results[name]
            if result.error is not None:
                continue
            try:
                sample, stdout = timed(cmd, cwd=root, env=run_env, timeout=1800)
            except ToolError as exc:
                result.error = str(exc)
                continue
            result.samples.append(sample)
            if name in notes:
                builds = examplesuite.builds(stdout)
                notes[name].append(str(builds) if builds else "no images line")
    start = results[PLAIN].median
    second = results[SECOND].median
    beyond = (
        f"; second - start-up = {second - start:.2f} s"
        if start is not None and second is not None
        else ""
    )
    goals = {
        PLAIN: "",
        COLLECT: "",
        FIRST: "",
        SECOND: "second run - start-up < 2 s",
        CHANGED: "only affected steps re-run",
    }
    out: list[Row] = []
    for name, result in results.items():
        seen = list(dict.fromkeys(notes.get(name, [])))
        note = " / ".join(seen) + (beyond if name == SECOND else "")
        out.append(
            {
                "workload": NAME,
                "measure": name,
                "tool": "pytest" if name in (PLAIN, COLLECT) else "pytest + image fixture",
                "result": result,
                "goal": goals[name],
                "note": note,
            }
        )
    return out
