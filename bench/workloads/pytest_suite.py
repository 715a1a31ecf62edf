"""Issue 4: a 200-test module over 3 images built by the plugin's ``image`` fixture.

The example project is not there yet, so the harness writes a synthetic one: a shell
service (src/), three Dockerfiles on the busybox base (one of them multi-stage) and a
module of 200 tests under three ``@pytest.mark.dockerfile`` classes. Measured: the first
run (empty pytest cache), the unchanged second run, and the run after one source file
changes; beside them pytest's own start-up with 200 plain tests.
"""

from __future__ import annotations

import shutil
import sys

import bases
import gen
from buildside import Row
from infra import Env
from tools import Result, ToolError, timed

NAME = "pytest-suite"
IMAGES = {
    "one": 'COPY src/ /app/\nRUN chmod 0755 /app/service.sh\nCMD ["/app/service.sh"]\n',
    "two": "ENV MODE=two\nCOPY src/ /app/\nRUN adduser -D -H -u 1000 svc 2>/dev/null"
    " || echo 'svc:x:1000:1000::/app:/bin/sh' >> /etc/passwd\nUSER 1000\n",
    "three": "COPY src/ /app/\nRUN tar -cf /app.tar /app\n",
}


def _write(env: Env, base: str) -> None:
    root = env.work / "suite"
    src = root / "src"
    gen.blank(src / "service.sh", "#!/bin/sh\necho serving\n")
    for i in range(20):
        gen.blank(src / "lib" / f"part{i:02d}.sh", f"part_{i}() {{ echo {i}; }}\n")
    gen.blank(root / "Dockerfile.one", f"FROM {base}\n{IMAGES['one']}")
    gen.blank(root / "Dockerfile.two", f"FROM {base}\n{IMAGES['two']}")
    gen.blank(
        root / "Dockerfile.three",
        f"FROM {base} AS build\n{IMAGES['three']}\nFROM {base}\n"
        "COPY --from=build /app.tar /app.tar\n",
    )
    gen.blank(root / "pytest.ini", "[pytest]\naddopts = -q -p no:randomly\n")
    tests = ["import pytest\n\nPARTS = [f'/app/lib/part{i:02d}.sh' for i in range(20)]\n"]
    for name, count in (("one", 67), ("two", 67), ("three", 66)):
        tests.append(f"""

@pytest.mark.dockerfile("Dockerfile.{name}", context=".")
class TestImage{name.title()}:
    @pytest.mark.parametrize("n", range({count}))
    def test_check(self, image, n):
        if "{name}" == "three":
            assert image.file("/app.tar").size > 0
        else:
            assert image.file(PARTS[n % 20]).is_file
""")
    gen.blank(root / "test_images.py", "".join(tests))
    plain = root / "plain"
    gen.blank(plain / "pytest.ini", "[pytest]\naddopts = -q\n")
    gen.blank(
        plain / "test_plain.py",
        "import pytest\n\n\n@pytest.mark.parametrize('n', "
        "range(200))\ndef test_plain(n):\n    assert n >= 0\n",
    )


def rows(env: Env) -> list[Row]:
    base = bases.busybox(env)
    _write(env, base)
    root = env.work / "suite"
    phases = ["first run", "unchanged second run", "after one source change"]
    results = {phase: Result() for phase in [*phases, "start-up"]}
    cmd = [sys.executable, "-m", "pytest", "test_images.py"]
    for i in range(env.runs):
        plain = results["start-up"]
        sample, _ = timed([sys.executable, "-m", "pytest", "test_plain.py"], cwd=root / "plain")
        plain.samples.append(sample)
        shutil.rmtree(root / ".pytest_cache", ignore_errors=True)
        for phase in phases:
            if phase == phases[2]:
                gen.blank(root / "src" / "lib" / "part07.sh", f"part_7() {{ echo 7.{i}; }}\n")
            result = results[phase]
            if result.error is not None:
                continue
            try:
                sample, _ = timed(cmd, cwd=root, timeout=3600)
                result.samples.append(sample)
            except ToolError as exc:
                result.error = str(exc)
    startup = results["start-up"]
    base_s = sorted(s.seconds for s in startup.samples)[len(startup.samples) // 2]
    goals = {
        phases[0]: "",
        phases[1]: f"< {base_s + 2:.1f} s (start-up + 2 s)",
        phases[2]: "only affected steps re-run",
    }
    out: list[Row] = [
        {
            "workload": NAME,
            "measure": "pytest start-up, 200 plain tests",
            "tool": "pytest",
            "result": startup,
            "goal": "",
        }
    ]
    out += [
        {
            "workload": NAME,
            "measure": phase,
            "tool": "pytest + image fixture",
            "result": results[phase],
            "goal": goals[phase],
        }
        for phase in phases
    ]
    return out
