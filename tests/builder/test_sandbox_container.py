"""The sandbox inside a docker container under the default seccomp profile (a CI job's lot).

There user namespaces and mounts are refused for root and non-root alike; chroot works as root.
The container (tests/builder/container_support.py) gets the host's /usr read-only (python3 and
busybox come from there) and this checkout as /src, so no image needs to be pulled.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.builder.container_support import CI_USER, run_python, skeleton_image
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

SNIPPET = """
    import json, os
    from pathlib import Path
    from pytest_imagebuild.builder import sandbox
    from tests.builder.busybox_root import make_busybox_root, snapshot

    mode = sandbox.probe()
    result = {"kind": mode.kind, "describe": mode.describe(), "hint": mode.hint}
    if mode.kind != "none":
        root = make_busybox_root(Path("/tmp/root"))
        before = snapshot(root)
        out = bytearray()
        result["code"] = sandbox.run(
            root,
            ["/bin/sh", "-c", "id -u; cat /etc/hosts >/dev/null && echo hosts; "
             "sleep 915.5 & (setsid sleep 915.5 &); exit 7"],
            workdir="/w",
            output=out.extend,
        )
        result["out"] = out.decode()
        after = snapshot(root)
        keys = set(before) | set(after)
        result["changed"] = sorted(k for k in keys if before.get(k) != after.get(k))
        result["leftovers"] = [
            p for p in os.listdir("/proc")
            if p.isdigit() and "915.5" in Path(f"/proc/{p}/cmdline").read_text()
        ]
    try:
        sandbox.forced("none").check()
    except Exception as error:
        result["none_error"] = type(error).__name__
    print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def skeleton(docker_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory) -> str:
    return skeleton_image(docker_daemon, tmp_path_factory.mktemp("skeleton"))


def run_in_container(
    docker_daemon: DockerDaemon, image: str, tmp_path: Path, user: str
) -> dict[str, Any]:
    (tmp_path / "snippet.py").write_text(textwrap.dedent(SNIPPET))
    tmp_path.chmod(0o755)
    (tmp_path / "snippet.py").chmod(0o644)
    done = run_python(
        docker_daemon, image, ["/job/snippet.py"], user=user, volumes={tmp_path: "/job:ro"},
        timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"snippet failed ({done.returncode}):\n{done.stderr.decode()}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def test_root_in_container_uses_chroot_mode(
    docker_daemon: DockerDaemon, skeleton: str, tmp_path: Path
) -> None:
    result = run_in_container(docker_daemon, skeleton, tmp_path, "0:0")
    assert result["kind"] == "chroot", result
    assert result["describe"].startswith("root, no user namespace, chroot only, no /proc")
    assert "seccomp" in result["hint"]
    assert result["code"] == 7, result
    assert result["out"] == "0\nhosts\n"
    assert result["changed"] == ["w"]  # the workdir; no resolv.conf, hosts or /dev left
    assert result["leftovers"] == []
    assert result["none_error"] == "SandboxError"


def test_non_root_in_container_is_refused_with_a_remedy(
    docker_daemon: DockerDaemon, skeleton: str, tmp_path: Path
) -> None:
    result = run_in_container(docker_daemon, skeleton, tmp_path, CI_USER)
    assert result["kind"] == "none", result
    assert result["describe"].startswith("unavailable: cannot create a user namespace")
    assert "seccomp=unconfined" in result["hint"]
    assert "as root" in result["hint"]
