"""Reference images: fixture Dockerfiles built once per session by the reference daemon.

Each image under ``dockerfiles/<name>/`` is built with docker's legacy builder, saved with
``docker save`` (the docker-archive the read side opens) and exported from a created,
never started container (``docker export``: the ground truth for the merged view).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker import DockerDaemon

DOCKERFILES = Path(__file__).parent / "dockerfiles"
BUSYBOX_IMAGES = ("deletions", "links", "modes", "names", "config", "manylayers")
DEBIAN_IMAGES = ("debian",)
ALL_IMAGES = BUSYBOX_IMAGES + DEBIAN_IMAGES
SETCAP = Path("/sbin/setcap")


@dataclass(frozen=True)
class Reference:
    name: str
    tag: str
    saved: Path  # docker save tarball
    exported: Path  # docker export tarball of a container
    inspect: dict[str, Any]  # docker image inspect
    history: tuple[str, ...]  # docker history CreatedBy, oldest first


def _host_files(name: str, context: Path) -> None:
    """Adds host files some contexts need (binaries are not kept in the repository)."""
    if name != "debian":
        return
    if not SETCAP.exists():
        pytest.fail(f"{SETCAP} is missing: apt-get install libcap2-bin", pytrace=False)
    shutil.copy2(SETCAP, context / "setcap")
    shutil.copy2("/bin/true", context / "cap-copied")
    subprocess.run([str(SETCAP), "cap_kill=ep", str(context / "cap-copied")], check=True)


def build_reference(docker: DockerDaemon, name: str, base: str, workdir: Path) -> Reference:
    context = workdir / "context"
    shutil.copytree(DOCKERFILES / name, context, symlinks=True)
    _host_files(name, context)
    # One tag per xdist worker: workers build concurrently and must not retag each other's.
    tag = f"imagebuild-test/ref-{name}:{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    docker.build(context, tag=tag, build_args={"BASE": base})
    saved = docker.save(tag, workdir / "saved.tar")
    exported = docker.export(tag, workdir / "exported.tar")
    history_out = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag)
    history = tuple(reversed(history_out.stdout.decode().splitlines()))
    return Reference(name, tag, saved, exported, docker.inspect(tag), history)


@pytest.fixture(scope="session")
def reference_factory(
    docker_daemon: DockerDaemon,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Reference]:
    """``factory(name) -> Reference``, each image built once per session.

    The tags stay in the daemon so the next session's builds hit docker's build cache.
    """
    built: dict[str, Reference] = {}

    def factory(name: str) -> Reference:
        if name not in built:
            base_fixture = "debian_image" if name in DEBIAN_IMAGES else "busybox_image"
            base = request.getfixturevalue(base_fixture)
            workdir = tmp_path_factory.mktemp(f"ref-{name}")
            built[name] = build_reference(docker_daemon, name, base, workdir)
        return built[name]

    return factory


@pytest.fixture(scope="session", params=ALL_IMAGES)
def reference(
    request: pytest.FixtureRequest, reference_factory: Callable[[str], Reference]
) -> Reference:
    return reference_factory(request.param)
