"""Runners for imagebuild and buildah, each measured as whole processes with peak memory.

Every measurement starts fresh processes; wall time covers build plus export to a
docker-archive tarball. Peak memory is the largest ru_maxrss among the processes run
(``/usr/bin/time`` when installed, else ``resource.getrusage(RUSAGE_CHILDREN)`` read
from a fresh wrapper process). Docker's runner is in dockerbuild.py.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TIME = "/usr/bin/time"
BUILDAH = "/usr/bin/buildah"
_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.monotonic(); rc = subprocess.call(sys.argv[1:])\n"
    "print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc,"
    " file=sys.stderr)\n"
)


class ToolError(Exception):
    """A tool failed; the message is the reason printed in the table cell."""


@dataclass
class Sample:
    seconds: float
    peak_kb: int


@dataclass
class Result:
    """The samples of one tool on one workload, or the reason it has none."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    peak_note: str = ""

    @property
    def median(self) -> float | None:
        """The median time, None without samples or after an error."""
        if self.error is not None or not self.samples:
            return None
        return statistics.median(s.seconds for s in self.samples)


def pytest_argv(*args: str) -> list[str]:
    """A quiet pytest run in this interpreter, test order as written."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args]


def reason(stderr: str, stdout: str = "") -> str:
    """The most telling line of a failed command's output."""
    lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    pytest_errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    if pytest_errors:
        return pytest_errors[0][:160]
    for line in reversed(lines):
        if "error" in line.lower() or "Error" in line or line.startswith("E "):
            return line[:160]
    return lines[-1][:160] if lines else "no output"


def timed(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
) -> tuple[Sample, str]:
    """Run ``cmd`` once; its wall time, peak memory and stdout. Raises ToolError on failure."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        if Path(TIME).exists():
            wrapped = [TIME, "-f", "%e %M %x", "-o", report.name, *cmd]
        else:
            wrapped = [sys.executable, "-c", _WRAPPER, *cmd]
        start = time.monotonic()
        try:
            proc = subprocess.run(
                wrapped,
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"timed out after {timeout:.0f} s: {' '.join(cmd[:3])}") from exc
        except OSError as exc:
            raise ToolError(f"cannot start {cmd[0]}: {exc}") from exc
        wall = time.monotonic() - start
        if Path(TIME).exists():
            fields = report.read().split()[-3:]
            peak = int(fields[1]) if len(fields) == 3 else 0
        else:
            fields = proc.stderr.splitlines()[-1].split() if proc.stderr else []
            peak = int(fields[1]) if len(fields) == 3 else 0
    if proc.returncode != 0:
        raise ToolError(f"exit {proc.returncode}: {reason(proc.stderr, proc.stdout)}")
    return Sample(wall, peak), proc.stdout


def quiet(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 1800
) -> str:
    """Run an untimed helper command; raise ToolError with its reason when it fails."""
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise ToolError(f"{' '.join(cmd[:3])}: {reason(proc.stderr, proc.stdout)}")
    return proc.stdout


REPO = Path(__file__).resolve().parent.parent


def checkout_env(**extra: str) -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH: the command measures this
    checkout's code even when the installed package points at another one."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def imagebuild_command() -> list[str]:
    """The ``imagebuild`` console script beside this interpreter, else ``-m``."""
    script = Path(sys.executable).parent / "imagebuild"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest_imagebuild"]


def run_imagebuild(context: Path, dockerfile: Path, scratch: Path) -> Sample:
    out = scratch / "out.tar"
    env = checkout_env(XDG_CACHE_HOME=str(scratch / "cache"), TMPDIR=str(scratch))
    cmd = [
        *imagebuild_command(),
        "--context",
        str(context),
        "--dockerfile",
        str(dockerfile),
        "--no-push",
        "--tar-path",
        str(out),
    ]
    sample, _ = timed(cmd, env=env)
    if not out.is_file() or out.stat().st_size == 0:
        raise ToolError(f"exit 0 but no tarball at {out.name}")
    return sample


def buildah_build_and_save(
    store: list[str], context: Path, dockerfile: Path, out: Path, *, layers: bool
) -> Sample:
    """``buildah build`` (chroot isolation, ``--layers`` as asked) as ``bench-out``, then its
    push to a docker-archive at ``out``: one sample, times added, the larger peak."""
    build, _ = timed(
        [
            BUILDAH,
            *store,
            "build",
            f"--layers={'true' if layers else 'false'}",
            "--isolation",
            "chroot",
            "--tls-verify=false",
            "-t",
            "bench-out",
            "-f",
            str(dockerfile),
            str(context),
        ]
    )
    push, _ = timed([BUILDAH, *store, "push", "bench-out", f"docker-archive:{out}"])
    return Sample(build.seconds + push.seconds, max(build.peak_kb, push.peak_kb))


def run_buildah(context: Path, dockerfile: Path, scratch: Path) -> Sample:
    store = ["--root", str(scratch / "root"), "--runroot", str(scratch / "run")]
    out = scratch / "out.tar"
    try:
        sample = buildah_build_and_save(store, context, dockerfile, out, layers=False)
    finally:
        subprocess.run(
            [BUILDAH, *store, "rmi", "--all", "--force"], capture_output=True, check=False
        )
    return sample


def fresh_dir(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
