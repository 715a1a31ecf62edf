"""``image.run`` applies entrypoint, cmd, env, user and workdir as ``docker run`` does.

The same image (built by the embedded executor) runs on the suite's docker daemon and in
the sandbox; exit code, stdout and stderr must match. docker adds ``HOSTNAME`` (its
container id) to the environment, which the sandbox does not: it is left out of the
comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.runner import SandboxRunner
from tests.structure.images import app_image
from tests.support.docker import DockerDaemon

ENV = "env | grep -v ^HOSTNAME= | sort"
# (docker run options, docker run args, image.run keyword arguments)
CASES: list[tuple[list[str], list[str], dict[str, Any]]] = [
    ([], [], {}),
    ([], ["status", "--verbose"], {"command": ["status", "--verbose"]}),
    (
        ["--entrypoint", "/bin/sh"],
        ["-c", f"id; pwd; {ENV}"],
        {"entrypoint": "/bin/sh", "command": ["-c", f"id; pwd; {ENV}"]},
    ),
    (
        ["--entrypoint", "/bin/sh"],
        ["-c", "echo $GREETING; exit 4"],
        {"command": "echo $GREETING; exit 4"},
    ),
    (["--entrypoint", ""], ["id"], {"entrypoint": [], "command": ["id"]}),
    (["-u", "root", "--entrypoint", "id"], [], {"user": "root", "entrypoint": "id"}),
    (["-u", "0:1000", "--entrypoint", "id"], [], {"user": "0:1000", "entrypoint": "id"}),
    (
        ["-u", "nobody", "--entrypoint", "/bin/sh"],
        ["-c", f"id; {ENV}"],
        {"user": "nobody", "command": f"id; {ENV}"},
    ),
    (
        ["-u", "4242", "--entrypoint", "/bin/sh"],
        ["-c", f"id; {ENV}"],
        {"user": "4242", "command": f"id; {ENV}"},
    ),
    (
        ["-e", "GREETING=bye", "-e", "EXTRA=1", "--entrypoint", "/bin/sh"],
        ["-c", ENV],
        {"env": {"GREETING": "bye", "EXTRA": "1"}, "command": ENV},
    ),
    (["-w", "/tmp"], [], {"workdir": "/tmp"}),
    (
        ["-w", "/made/by/run", "--entrypoint", "pwd"],
        [],
        {"workdir": "/made/by/run", "entrypoint": "pwd"},
    ),
    (
        ["-i", "--entrypoint", "/bin/sh"],
        ["-c", "tr a-z A-Z; echo done >&2"],
        {"command": "tr a-z A-Z; echo done >&2", "stdin": "piped in\n"},
    ),
    (["--entrypoint", "/bin/sh"], ["-c", "kill -TERM $$"], {"command": "kill -TERM $$"}),
]
IDS = [
    "entrypoint-and-cmd",
    "args-replace-cmd",
    "entrypoint-override",
    "str-runs-in-shell",
    "entrypoint-cleared",
    "user-name",
    "user-uid-gid",
    "user-nobody-env",
    "user-unknown-uid",
    "env-override",
    "workdir",
    "workdir-created",
    "stdin",
    "signal-exit-code",
]


@pytest.fixture(scope="module")
def app_image_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_image(busybox_rootfs_tar, tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(docker_daemon: DockerDaemon, app_image_tar: Path) -> str:
    docker_daemon.load(app_image_tar)
    return "imagebuild-test/structure:1"


@pytest.fixture(scope="module")
def app(app_image_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    with Image.open(app_image_tar) as opened:
        opened.runner = SandboxRunner(tmp_path_factory.mktemp("run-cache"))
        yield opened


@pytest.mark.parametrize(("options", "args", "kwargs"), CASES, ids=IDS)
def test_run_matches_docker_run(
    docker_daemon: DockerDaemon,
    loaded: str,
    app: Image,
    options: list[str],
    args: list[str],
    kwargs: dict[str, Any],
) -> None:
    stdin = kwargs.get("stdin")
    reference = docker_daemon.run(
        "run",
        "--rm",
        *options,
        loaded,
        *args,
        check=False,
        input=stdin.encode() if stdin else None,
        timeout=120,
    )
    ours = app.run(**kwargs)
    assert (ours.exit_code, ours.stdout_text, ours.stderr_text) == (
        reference.returncode,
        reference.stdout.decode(),
        reference.stderr.decode(),
    )


def test_missing_command_exits_127_like_docker(
    docker_daemon: DockerDaemon, loaded: str, app: Image
) -> None:
    reference = docker_daemon.run("run", "--rm", "--entrypoint", "/no/such", loaded, check=False)
    ours = app.run(entrypoint="/no/such")
    assert (ours.exit_code, reference.returncode) == (127, 127)
    assert b"/no/such: not found" in ours.stderr
