"""The reference Docker daemon used by differential tests.

The session fixture ``docker_daemon`` talks to the daemon on the default socket when one
answers there. Otherwise it starts ``/usr/sbin/dockerd`` with its own data root, exec root,
pid file and socket under ``DAEMON_DIR`` (``IMAGEBUILD_TEST_DOCKERD_DIR``; extra dockerd
flags in ``IMAGEBUILD_TEST_DOCKERD_ARGS``) and stops it when the last pytest process that uses
it (xdist workers included) finishes. Builds use the legacy builder (``DOCKER_BUILDKIT=0``),
whose output the differential tests treat as the reference.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
SETSID = "/usr/bin/setsid"
DEFAULT_HOST = "unix:///var/run/docker.sock"
DAEMON_DIR = Path(
    os.environ.get("IMAGEBUILD_TEST_DOCKERD_DIR", "/var/tmp/pytest-imagebuild-dockerd")
)
READY_TIMEOUT = 60.0


class DockerError(AssertionError):
    """A docker command failed; the message carries its command line and output."""


class DockerDaemon:
    """A running docker daemon reached through ``/usr/bin/docker``."""

    def __init__(self, host: str, *, owned: bool) -> None:
        self.host = host
        self.owned = owned

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["DOCKER_BUILDKIT"] = "0"
        env.pop("DOCKER_CONTEXT", None)
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        *args: str | os.PathLike[str],
        check: bool = True,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``docker ARGS``; with ``check`` a non-zero exit raises with the output."""
        cmd = [DOCKER, *map(os.fspath, args)]
        proc = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            env=self.env(env),
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise DockerError(
                f"{' '.join(cmd)} exited {proc.returncode}\n"
                f"stdout:\n{_tail(proc.stdout)}\nstderr:\n{_tail(proc.stderr)}"
            )
        return proc

    def build(
        self,
        context: str | os.PathLike[str],
        dockerfile: str | os.PathLike[str] | None = None,
        tag: str | None = None,
        build_args: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> str:
        """Build with the legacy builder; returns ``tag`` if given, else the image id."""
        args: list[str | os.PathLike[str]] = ["build", "--quiet", "--force-rm"]
        if dockerfile is not None:
            args += ["--file", dockerfile]
        if tag is not None:
            args += ["--tag", tag]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        args += [*extra_args, context]
        image_id = self.run(*args).stdout.decode().strip().splitlines()[-1]
        return tag if tag is not None else image_id

    def save(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """``docker save`` ``ref`` into the tarball ``dest``."""
        dest = Path(dest)
        self.run("save", "--output", dest, ref)
        return dest

    def export(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Write the merged filesystem of a (never started) container of ``ref`` to ``dest``."""
        dest = Path(dest)
        name = f"imagebuild-export-{uuid.uuid4().hex[:12]}"
        # create needs a command; images without CMD/ENTRYPOINT get a placeholder one.
        self.run("create", "--name", name, ref, *self._placeholder_cmd(ref))
        try:
            self.run("export", "--output", dest, name)
        finally:
            self.run("rm", "--force", name, check=False)
        return dest

    def load(self, path: str | os.PathLike[str]) -> str:
        """``docker load`` a tarball; returns docker's "Loaded image" line."""
        return self.run("load", "--input", path).stdout.decode().strip()

    def import_rootfs(
        self, tarball: str | os.PathLike[str], tag: str, changes: Sequence[str] = ()
    ) -> str:
        """``docker import`` a rootfs tarball as ``tag`` with ``--change`` lines."""
        args: list[str | os.PathLike[str]] = ["import"]
        for change in changes:
            args += ["--change", change]
        self.run(*args, tarball, tag)
        return tag

    def inspect(self, ref: str) -> dict[str, Any]:
        """The ``docker image inspect`` JSON object of ``ref``."""
        data = json.loads(self.run("image", "inspect", ref).stdout)
        return dict(data[0])

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, check=False).returncode == 0

    def remove_image(self, ref: str) -> None:
        self.run("image", "rm", "--force", ref, check=False)

    def _placeholder_cmd(self, ref: str) -> list[str]:
        config = self.inspect(ref).get("Config") or {}
        if config.get("Cmd") or config.get("Entrypoint"):
            return []
        return ["/nonexistent-placeholder"]


def _tail(data: bytes, lines: int = 40) -> str:
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def answers(host: str) -> bool:
    """True when a daemon answers ``docker version`` on ``host``."""
    try:
        proc = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            env={**os.environ, "DOCKER_HOST": host},
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


class OwnDaemon:
    """Starts and stops a dockerd with its own state under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.pidfile = root / "docker.pid"
        self.log = root / "dockerd.log"
        self.host = f"unix://{self.socket}"

    def start(self) -> None:
        if os.geteuid() != 0:
            pytest.fail(
                f"no docker daemon answers on {DEFAULT_HOST} and starting {DOCKERD} needs root "
                f"(euid is {os.geteuid()}); start dockerd or run the tests as root",
                pytrace=False,
            )
        if not Path(DOCKERD).exists():
            pytest.fail(f"{DOCKERD} is missing: apt-get install docker.io", pytrace=False)
        self.stop()
        for sub in ("data", "exec"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # setsid --fork detaches dockerd from this process: any pytest process of the
            # run may be the one that stops it, and none leaves a child behind.
            subprocess.run(
                [
                    SETSID,
                    "--fork",
                    DOCKERD,
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(self.root / "exec"),
                    "--pidfile",
                    str(self.pidfile),
                    "-H",
                    self.host,
                    # Default networking unless told otherwise; never "--bridge=none":
                    # dockerd then deletes the host's docker0, breaking any other daemon.
                    *shlex.split(os.environ.get("IMAGEBUILD_TEST_DOCKERD_ARGS", "")),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if answers(self.host):
                return
            time.sleep(0.5)
        tail = _tail(self.log.read_bytes()) if self.log.exists() else "(no log)"
        self.stop()
        pytest.fail(
            f"{DOCKERD} did not answer on {self.host} within {READY_TIMEOUT:.0f}s; "
            f"log {self.log}:\n{tail}",
            pytrace=False,
        )

    def pid(self) -> int | None:
        """The pid in the pid file if that process is this daemon (pids get reused)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if Path(os.fsdecode(cmdline[0])).name != "dockerd":
            return None
        if os.fsencode(self.root / "data") not in cmdline:
            return None
        return pid

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)


@contextlib.contextmanager
def _flock(path: Path, kind: int = fcntl.LOCK_EX) -> Iterator[int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, kind)
        yield fd
    finally:
        os.close(fd)


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[DockerDaemon]:
    """The reference daemon: the default one if it answers, else one started here."""
    # IMAGEBUILD_TEST_OWN_DOCKERD=1 starts a separate daemon even when the default answers.
    if os.environ.get("IMAGEBUILD_TEST_OWN_DOCKERD") != "1" and answers(DEFAULT_HOST):
        yield DockerDaemon(DEFAULT_HOST, owned=False)
        return
    own = OwnDaemon(DAEMON_DIR)
    users_fd = os.open(_ensure(DAEMON_DIR) / "users.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with _flock(DAEMON_DIR / "start.lock"):
            # Every process using the daemon holds a shared lock on users.lock.
            fcntl.flock(users_fd, fcntl.LOCK_SH)
            if not answers(own.host):
                own.start()
        yield DockerDaemon(own.host, owned=True)
    finally:
        with _flock(DAEMON_DIR / "start.lock"):
            fcntl.flock(users_fd, fcntl.LOCK_UN)
            try:
                fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another pytest process still uses the daemon; the last one stops it
            else:
                own.stop()
            os.close(users_fd)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
