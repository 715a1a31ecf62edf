"""Helpers for the crash and concurrency tests: run ``imagebuild`` as a process, stop it in a
chosen phase, and look for what a dead build may have left behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pytest_imagebuild.image import Image
from tests.builder.build_support import config_view, file_table, make_base, write_tree
from tests.support.registry import RunningRegistry

REPO = Path(__file__).resolve().parents[2]
TEMP_MARKS = (".tmp-", ".partial-", ".live")


def imagebuild(*args: str | Path) -> subprocess.Popen[str]:
    """``imagebuild`` in its own session (so whatever it starts can be found by session id)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_imagebuild", *map(str, args)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    out = proc.communicate(timeout=timeout)[0]
    if proc.returncode != 0:
        raise AssertionError(f"imagebuild exited {proc.returncode}:\n{out}")
    return out


def push_base(reg: RunningRegistry, busybox_rootfs: Path, work: Path) -> str:
    """The busybox base pushed to ``reg``; returns its reference."""
    _, layout = make_base(busybox_rootfs, work)
    ref = f"{reg.host}/base:1"
    seed = write_tree(work / "seed", {"Dockerfile": f"FROM oci:{layout}\n"})
    finish(imagebuild("-c", seed, "-d", ref))
    return ref


def content_digest(path: Path) -> str:
    """sha256 of what an image holds: every file (type, mode, owner, size, content, link),
    the config and the history's ``created_by`` lines. Layers are verified against their
    digests by ``Image.open``. Timestamps are left out: every build stamps its own."""
    with Image.open(path) as image:
        body = {
            "files": file_table(image),
            "config": config_view(image),
            "history": [h.created_by for h in image.history],
            "layers": len(image.layers),
        }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def session_pids(sid: int) -> list[int]:
    """Processes still in session ``sid`` (what a killed imagebuild started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_gone(sid: int, timeout: float = 10) -> list[int]:
    """Session ``sid``'s processes after at most ``timeout`` s (they die with the build)."""
    deadline = time.monotonic() + timeout
    while (left := session_pids(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def mounts_under(root: Path) -> list[str]:
    """Mount points under ``root`` in this process's mount table."""
    text = Path("/proc/self/mountinfo").read_text()
    return [line.split()[4] for line in text.splitlines() if line.split()[4].startswith(str(root))]


def leftovers(*roots: Path) -> list[str]:
    """Temp files (any dot name), staging directories, liveness locks and build directories
    under ``roots``."""
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            name = path.name
            temp = name.startswith(".") or any(mark in name for mark in TEMP_MARKS)
            if temp or name.startswith("imagebuild-"):
                found.append(str(path))
    return found


def descendants_named(pid: int, comm: str) -> list[int]:
    """Processes named ``comm`` whose ancestry reaches ``pid``."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)], names[int(entry.name)] = int(fields[1]), name
    found = []
    for child, name in names.items():
        if name != comm:
            continue
        up = child
        while up > 1 and up != pid:
            up = parents.get(up, 0)
        if up == pid:
            found.append(child)
    return found


def stop_in_phase(
    proc: subprocess.Popen[str], started: Callable[[], bool], delay: float, timeout: float = 60
) -> bool:
    """Wait for ``started()`` (polling fast), wait ``delay``, then SIGKILL ``proc``.

    Returns False when the process ended before it could be killed (it then finished).
    """
    deadline = time.monotonic() + timeout
    while not started():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise AssertionError("the build never reached the phase")
        time.sleep(0.002)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    return True
