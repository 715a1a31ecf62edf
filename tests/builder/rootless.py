"""Run Python snippets as unprivileged users, for the rootless sandbox tests.

``ensure_user`` creates the test users once (idempotent): ``imagebuild-test`` with subordinate
ids in /etc/subuid and /etc/subgid, ``imagebuild-nosub`` without any.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"  # the test users cannot read root's own interpreters
FULL_USER = "imagebuild-test"
SINGLE_USER = "imagebuild-nosub"
SUBID_START, SUBID_COUNT = 200000, 65536
DEPS = (
    "httpx",
    "tarsafe",
    "isal",
    "zstandard",
    "google-re2",
    "PyYAML",
    "python-debian",
    "packaging",
)
DEPS_DIR = Path("/var/tmp/pytest-imagebuild-tests/rootless-deps")


@functools.cache
def project_path() -> str:
    """A PYTHONPATH with this checkout and its dependencies, importable by SYSTEM_PYTHON.

    The dependencies are installed once (binary wheels for CPython 3.11) into DEPS_DIR.
    """
    marker = DEPS_DIR / (".complete-" + hashlib.sha256(" ".join(DEPS).encode()).hexdigest()[:12])
    with open(Path(tempfile.gettempdir()) / "imagebuild-test-deps.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            _check(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--target",
                    str(DEPS_DIR),
                    "--python-version",
                    "3.11",
                    "--implementation",
                    "cp",
                    "--only-binary=:all:",
                    *DEPS,
                ]
            )
            marker.touch()
    for path in (DEPS_DIR, DEPS_DIR.parent):
        path.chmod(0o755)
    return f"{REPO}:{DEPS_DIR}"


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    subid_start: int | None


def _subids(path: str, name: str) -> list[str]:
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line for line in lines if line.split(":")[0] == name]


def _check(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")


@functools.cache
def ensure_user(name: str, *, subids: bool) -> User:
    """Create ``name`` if missing; give it subordinate ids, or make sure it has none."""
    if os.geteuid() != 0:
        raise RuntimeError("the rootless tests create their users and must start as root")
    # pytest-xdist workers may get here at once: one at a time
    with open(Path(tempfile.gettempdir()) / "imagebuild-test-users.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_user(name, subids)


def _ensure_user(name: str, subids: bool) -> User:
    try:
        pwd.getpwnam(name)
    except KeyError:
        _check(
            [
                "useradd",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
                "--no-create-home",
                "--shell",
                "/bin/sh",
                name,
            ]
        )
    entry = pwd.getpwnam(name)
    if subids and not (_subids("/etc/subuid", name) and _subids("/etc/subgid", name)):
        end = SUBID_START + SUBID_COUNT - 1
        _check(
            [
                "usermod",
                "--add-subuids",
                f"{SUBID_START}-{end}",
                "--add-subgids",
                f"{SUBID_START}-{end}",
                name,
            ]
        )
    if not subids:
        for path, flag in (("/etc/subuid", "--del-subuids"), ("/etc/subgid", "--del-subgids")):
            for line in _subids(path, name):
                _, first, count = line.split(":")
                _check(["usermod", flag, f"{first}-{int(first) + int(count) - 1}", name])
    start = int(_subids("/etc/subuid", name)[0].split(":")[1]) if subids else None
    return User(name, entry.pw_uid, entry.pw_gid, start)


def user_dir(user: User) -> Path:
    """A fresh directory the user owns, outside root's private temp dirs."""
    path = Path(tempfile.mkdtemp(prefix=f"{user.name}-", dir="/tmp"))
    os.chown(path, user.uid, user.gid)
    return path


def chown_tree(path: Path, user: User) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), user.uid, user.gid)
    os.lchown(path, user.uid, user.gid)


def run_as(user: User, code: str, cwd: Path, timeout: float = 60) -> Any:
    """Run ``code`` as ``user``; it must print one JSON value on its last line. Returns it."""
    script = cwd / "snippet.py"
    script.write_text(textwrap.dedent(code))
    os.chown(script, user.uid, user.gid)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": project_path(), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [
            "setpriv",
            f"--reuid={user.uid}",
            f"--regid={user.gid}",
            "--init-groups",
            SYSTEM_PYTHON,
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(
            f"snippet as {user.name} failed ({done.returncode}); it needs {SYSTEM_PYTHON} and "
            f"read access to {REPO}:\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def remove_as(user: User, path: Path) -> None:
    """Remove a rootless build dir the way the builder does (remove_tree), as ``user``."""
    run_as(
        user,
        f"""
        import json
        from pytest_imagebuild.builder.userns import remove_tree
        remove_tree({str(path / "build")!r})
        print(json.dumps(True))
    """,
        path,
    )
    shutil.rmtree(path)
