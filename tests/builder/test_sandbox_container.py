"""The sandbox inside a docker container under the default seccomp profile (a CI job's lot).

There user namespaces and mounts are refused for root and non-root alike; chroot works as root.
The container gets the host's /usr read-only (python3 and busybox come from there) and this
checkout as /src, so no image needs to be pulled.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.builder.rootless import DEPS_DIR, project_path
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
IMAGE = "imagebuild-test/usr-skeleton:1"

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


def _skeleton() -> bytes:
    """A merged-/usr root with nothing in /usr: the container mounts the host's."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name in ("usr", "etc", "tmp", "root", "src", "work"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        for name in ("bin", "sbin", "lib", "lib64"):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, f"usr/{name}"
            tar.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nci:x:1001:1001:ci:/tmp:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return data.getvalue()


@pytest.fixture(scope="module")
def skeleton_image(docker_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory) -> str:
    if not docker_daemon.image_exists(IMAGE):
        tarball = tmp_path_factory.mktemp("skeleton") / "skeleton.tar"
        tarball.write_bytes(_skeleton())
        docker_daemon.import_rootfs(tarball, IMAGE)
    return IMAGE


def run_in_container(
    docker_daemon: DockerDaemon, image: str, tmp_path: Path, user: str
) -> dict[str, Any]:
    project_path()  # installs the dependencies into DEPS_DIR
    (tmp_path / "snippet.py").write_text(textwrap.dedent(SNIPPET))
    tmp_path.chmod(0o755)
    (tmp_path / "snippet.py").chmod(0o644)
    done = docker_daemon.run(
        "run", "--rm", "--user", user,
        "-v", "/usr:/usr:ro", "-v", f"{REPO}:/src:ro", "-v", f"{tmp_path}:/job:ro",
        "-v", f"{DEPS_DIR}:/deps:ro", "-e", "PYTHONPATH=/src:/deps",
        "-e", "PYTHONDONTWRITEBYTECODE=1", "-w", "/tmp",
        image, "/usr/bin/python3", "/job/snippet.py",
        timeout=120,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def test_root_in_container_uses_chroot_mode(
    docker_daemon: DockerDaemon, skeleton_image: str, tmp_path: Path
) -> None:
    result = run_in_container(docker_daemon, skeleton_image, tmp_path, "0:0")
    assert result["kind"] == "chroot", result
    assert result["describe"].startswith("root, no user namespace, chroot only, no /proc")
    assert "seccomp" in result["hint"]
    assert result["code"] == 7, result
    assert result["out"] == "0\nhosts\n"
    assert result["changed"] == ["w"]  # the workdir; no resolv.conf, hosts or /dev left
    assert result["leftovers"] == []
    assert result["none_error"] == "SandboxError"


def test_non_root_in_container_is_refused_with_a_remedy(
    docker_daemon: DockerDaemon, skeleton_image: str, tmp_path: Path
) -> None:
    result = run_in_container(docker_daemon, skeleton_image, tmp_path, "1001:1001")
    assert result["kind"] == "none", result
    assert result["describe"].startswith("unavailable: cannot create a user namespace")
    assert "seccomp=unconfined" in result["hint"]
    assert "as root" in result["hint"]
