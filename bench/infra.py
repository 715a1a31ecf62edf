"""What every workload stands on: the work dir, a docker daemon, a loopback registry.

The registry (Debian's docker-registry) keeps its storage under ``bench/.work/registry``
across runs and listens on a free 127.0.0.1 port chosen per run; base images pushed once
are found again by name. All three builders pull their bases from it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dockerbuild import DOCKER, Docker
from tools import ToolError

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
CACHE = Path.home() / ".cache" / "pytest-imagebuild-bench"
DOCKERD = "/usr/sbin/dockerd"
DEFAULT_SOCKET = "/var/run/docker.sock"
REGISTRY = "/usr/bin/docker-registry"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


@dataclass
class Env:
    """Shared state handed to every workload."""

    work: Path
    registry: str  # "127.0.0.1:PORT"
    docker: Docker
    quick: bool
    runs: int

    def ref(self, name: str) -> str:
        return f"{self.registry}/{name}"

    def in_registry(self, name: str) -> bool:
        repo, tag = name.rsplit(":", 1)
        request = urllib.request.Request(
            f"http://{self.registry}/v2/{repo}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": MANIFEST_TYPES},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return bool(response.status == 200)
        except urllib.error.URLError:
            return False

    def publish(self, local: str, name: str) -> str:
        """Tag a docker image as ``registry/name`` and push it; returns the reference."""
        ref = self.ref(name)
        self.docker.cmd("tag", local, ref)
        self.docker.cmd("push", ref, timeout=3600)
        return ref


def _answers(host: str) -> bool:
    env = dict(os.environ, DOCKER_HOST=host)
    try:
        proc = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            env=env,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _wait(check: object, what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
    raise ToolError(f"{what} did not become ready in {seconds:.0f} s\n{tail}")


@contextlib.contextmanager
def docker_daemon() -> Iterator[Docker]:
    """The daemon on the default socket, else an own dockerd with its own data root."""
    host = f"unix://{DEFAULT_SOCKET}"
    if _answers(host):
        pidfile = Path("/var/run/docker.pid")
        pid = int(pidfile.read_text()) if pidfile.exists() else None
        yield Docker(host, pid)
        return
    root = CACHE / "dockerd"
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "exec").mkdir(parents=True, exist_ok=True)
    sock = root / "docker.sock"
    log = root / "dockerd.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                DOCKERD,
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "exec"),
                "--pidfile",
                str(root / "docker.pid"),
                "--host",
                f"unix://{sock}",
            ],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        _wait(lambda: _answers(f"unix://{sock}"), "dockerd", log)
        yield Docker(f"unix://{sock}", proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def registry(work: Path) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port, storage kept under ``work``."""
    storage = work / "registry"
    storage.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = work / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = work / "registry.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=out, stderr=out)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                return True
        except OSError:
            return False

    try:
        _wait(ready, "docker-registry", log, 30)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
