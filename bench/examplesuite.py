"""The example project as a benchmark input: a fresh copy with a 200-test module.

``prepare`` copies ``example_project/`` into the work dir without its caches (pytest's
cache, bytecode, benchmark results and the generated busybox rootfs, which the example's
conftest.py writes again), then adds two modules to its ``tests/``: ``test_bench.py``,
200 tests in three classes, one per Dockerfile target, all using the ``image`` fixture;
and ``test_plain.py``, 200 tests that touch no image, for pytest's own start-up with the
same conftest, ini file and plugins. ``builds`` reads the plugin's terminal summary.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
IGNORED = (".pytest_cache", "__pycache__", ".benchmarks", "busybox-rootfs.tar")
CHANGED = Path("site") / "welcome.txt"

# Paths each target holds; test n checks PATHS[n % len(PATHS)] and one config value.
TARGETS: dict[str, tuple[int, list[str], str]] = {
    "local-busybox": (
        67,
        ["/bin/busybox", "/bin/sh", "/etc/passwd", "/etc/group", "/tmp", "/usr/sbin/httpd"],
        'image.user == ""',
    ),
    "build": (
        67,
        ["/src/build-site.sh", "/src/site/welcome.txt", "/out/index.html", "/out/healthz"],
        'image.workdir == "/src"',
    ),
    "final": (
        66,
        [
            "/var/www/index.html",
            "/var/www/welcome.html",
            "/etc/httpd.conf",
            "/usr/local/bin/notes-entrypoint",
            "/home/www",
        ],
        'image.user == "www"',
    ),
}

_CLASS = """

@pytest.mark.dockerfile("../Dockerfile", target="{target}")
class Test{title}:
    PATHS = {paths!r}

    @pytest.mark.parametrize("n", range({count}))
    def test_path(self, image, n):
        assert {config}
        assert image.file(self.PATHS[n % len(self.PATHS)]).exists
"""
_PLAIN = '''"""200 tests without images: pytest's own cost for a module of this size."""

import pytest


@pytest.mark.parametrize("n", range(200))
def test_plain(n):
    assert n >= 0
'''

_STEPS = re.compile(r", steps: (\d+) cached, (\d+) run$")
_TOTAL = re.compile(r"^images: (\d+) built in [\d.]+s(?: \(\d+ steps? cached\))?, (\d+) reused")


def _title(target: str) -> str:
    return "".join(part.title() for part in target.split("-"))


def bench_module() -> str:
    parts = ['"""200 tests over the three targets of ../Dockerfile."""\n\nimport pytest\n']
    for target, (count, paths, config) in TARGETS.items():
        parts.append(
            _CLASS.format(
                target=target, title=_title(target), paths=paths, count=count, config=config
            )
        )
    return "".join(parts)


def prepare(work: Path) -> Path:
    """A fresh copy of the example project under ``work``; returns its root."""
    root = work / "example-suite"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    (root / "tests" / "test_bench.py").write_text(bench_module())
    (root / "tests" / "test_plain.py").write_text(_PLAIN)
    return root


def change_source(root: Path, revision: int) -> None:
    """Rewrite one page of the site: only the build stage's COPY and RUN, and what
    depends on them, have to run again."""
    path = root / CHANGED
    text = path.read_text().rstrip("\n").split("\n\nRevision ")[0]
    path.write_text(f"{text}\n\nRevision {revision}.\n")


@dataclass(frozen=True)
class Builds:
    """What one pytest run's terminal summary says about its images."""

    built: int
    reused: int
    steps_cached: int
    steps_run: int

    def __str__(self) -> str:
        return (
            f"{self.built} built, {self.reused} reused; "
            f"steps {self.steps_cached} cached, {self.steps_run} run"
        )


def builds(stdout: str) -> Builds | None:
    """The summary's counts, or None when it printed no images line."""
    cached = run = 0
    total = None
    for line in stdout.splitlines():
        line = line.strip()
        steps = _STEPS.search(line)
        if steps and line.startswith("built"):
            cached += int(steps.group(1))
            run += int(steps.group(2))
        match = _TOTAL.match(line)
        if match:
            total = (int(match.group(1)), int(match.group(2)))
    if total is None:
        return None
    return Builds(total[0], total[1], cached, run)
