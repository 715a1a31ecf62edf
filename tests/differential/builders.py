"""Both builders on the same inputs: docker's legacy builder and the ``imagebuild`` command.

The base images reach both through one registry on loopback: the busybox (or Debian) image
of ``tests.support.baseimages`` is tagged ``<registry>/busybox:1`` in the reference daemon and
pushed, so docker builds from its local copy and the executor pulls the very same image.
Docker builds are cached for the session: each case is built by docker once.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.differential.corpus import BUILDKIT_DIR, PARITY_DIR, Case, materialize
from tests.support.docker import DockerDaemon, DockerError
from tests.support.registry import RegistryFactory, RunningRegistry

EXECUTOR_TIMEOUT = 600
DOCKER_ATTEMPTS = 3
CACHE_RACES = ("unknown parent image ID", "No such image")


def _tail(data: bytes, lines: int = 60) -> str:
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


@dataclass
class Bases:
    """Base image references (``<registry>/name:tag``) known to docker and the registry."""

    docker: DockerDaemon
    registry: RunningRegistry
    local_tags: dict[str, str]
    pushed: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ref(self, name: str, request: pytest.FixtureRequest) -> str:
        with self.lock:
            if name not in self.pushed:
                local = request.getfixturevalue(self.local_tags[name])
                ref = f"{self.registry.host}/{name}:1"
                self.docker.run("tag", local, ref)
                self.docker.run("push", ref)
                self.pushed[name] = ref
            return self.pushed[name]


class HttpFiles:
    """A loopback HTTP server for ``ADD <url>`` cases: serves every case's ``http/`` dir."""

    def __init__(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(PARITY_DIR.parent))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, case: Case) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/{case.path.parent.name}/{case.name}/http"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Builds:
    """Materialized contexts and docker builds of the session, one per case."""

    docker: DockerDaemon
    bases: Bases
    http: HttpFiles
    root: Path
    contexts: dict[str, Path] = field(default_factory=dict)
    docker_tars: dict[str, Path] = field(default_factory=dict)

    def build_args(self, case: Case, request: pytest.FixtureRequest) -> dict[str, str]:
        args = {"BASE": self.bases.ref(case.base, request)}
        if case.http:
            args["HTTP"] = self.http.url(case)
        return {**args, **case.build_args}

    def context(self, case: Case) -> Path:
        key = f"{case.path.parent.name}-{case.name}"
        if key not in self.contexts:
            self.contexts[key] = materialize(case, self.root / "contexts" / key)
        return self.contexts[key]

    def docker_build(self, case: Case, request: pytest.FixtureRequest) -> Path:
        """The ``docker save`` tarball of the case built by the legacy builder (cached).

        The image is saved by id and never tagged or removed: removing it would also prune
        the cached intermediate images other builds on the same daemon may stand on.
        """
        if case.name not in self.docker_tars:
            dest = self.root / "docker" / f"{case.name}.tar"
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.docker.save(self._docker_build_id(case, request), dest)
            self.docker_tars[case.name] = dest
        return self.docker_tars[case.name]

    def _docker_build_id(self, case: Case, request: pytest.FixtureRequest) -> str:
        extra = ["--target", case.target] if case.target else []
        for attempt in range(DOCKER_ATTEMPTS):
            try:
                return self.docker.build(
                    self.context(case),
                    dockerfile=self.context(case) / "Dockerfile",
                    build_args=self.build_args(case, request),
                    extra_args=extra,
                )
            except DockerError as exc:
                # Another client of the daemon may remove an image the build cache picked
                # as a parent mid-build; that failure is the daemon's, so build again.
                if attempt + 1 < DOCKER_ATTEMPTS and any(t in str(exc) for t in CACHE_RACES):
                    continue
                pytest.fail(
                    f"reference build by docker failed for {case.name}:\n{exc}", pytrace=False
                )
        raise AssertionError("unreachable")

    def base_layer_count(self, case: Case, request: pytest.FixtureRequest) -> int:
        ref = self.bases.ref(case.base, request)
        return len(self.docker.inspect(ref)["RootFS"]["Layers"])

    def docker_attempt(
        self, case: Case, request: pytest.FixtureRequest
    ) -> subprocess.CompletedProcess[bytes]:
        """Run docker's legacy builder on ``case`` without requiring success."""
        context = self.context(case)
        args = ["build", "--quiet", "--force-rm", "--file", str(context / "Dockerfile")]
        for key, value in self.build_args(case, request).items():
            args += ["--build-arg", f"{key}={value}"]
        return self.docker.run(*args, str(context), check=False)

    def executor_build(self, case: Case, request: pytest.FixtureRequest, out: Path) -> Path:
        """Build ``case`` with ``python -m pytest_imagebuild`` into the tarball ``out``."""
        context = self.context(case)
        cmd = [
            sys.executable, "-m", "pytest_imagebuild",
            "--context", str(context), "--dockerfile", str(context / "Dockerfile"),
            "--no-push", "--tar-path", str(out),
            # a fresh local cache per build: RUN cache mounts persist in it across builds
            "--cache-dir", str(out.parent / f"{out.stem}-cache"),
        ]  # fmt: skip
        for key, value in self.build_args(case, request).items():
            cmd += ["--build-arg", f"{key}={value}"]
        if case.target:
            cmd += ["--target", case.target]
        for secret_id, src in case.secrets.items():
            cmd += ["--secret", f"id={secret_id},src={context / src}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=EXECUTOR_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"executor timed out after {EXECUTOR_TIMEOUT}s: {' '.join(exc.cmd)}")
        if proc.returncode != 0 or not out.exists():
            pytest.fail(
                f"executor build of {case.name} exited {proc.returncode}"
                f"{'' if out.exists() else ' without writing the tarball'}\n"
                f"command: {' '.join(cmd)}\nstdout:\n{_tail(proc.stdout)}\n"
                f"stderr:\n{_tail(proc.stderr)}",
                pytrace=False,
            )
        return out


@pytest.fixture(scope="session")
def differential_builds(
    docker_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Builds]:
    registries = RegistryFactory(tmp_path_factory.mktemp("differential-registry"))
    try:
        bases = Bases(
            docker=docker_daemon,
            registry=registries(),
            local_tags={"busybox": "busybox_image", "debian": "debian_image"},
        )
        http_files = HttpFiles()
        try:
            yield Builds(
                docker=docker_daemon,
                bases=bases,
                http=http_files,
                root=tmp_path_factory.mktemp("differential"),
            )
        finally:
            http_files.stop()
            for ref in bases.pushed.values():
                docker_daemon.remove_image(ref)
    finally:
        registries.stop_all()


__all__ = ["BUILDKIT_DIR", "Builds", "differential_builds"]
