"""Run this checkout inside a docker container under the default seccomp profile.

That is a CI job's usual lot: user namespaces and mounts are refused for root and non-root
alike, chroot works as root. The container is an imported skeleton image (a merged-/usr root
with an empty /usr) that gets the host's /usr read-only, so python3 and busybox come from the
host and no image needs to be pulled. The checkout is /src, its dependencies /deps (both
read-only, on PYTHONPATH).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

from tests.builder.rootless import DEPS_DIR, project_path
from tests.support.docker import DockerDaemon

REPO = Path(__file__).resolve().parents[2]
SKELETON_IMAGE = "imagebuild-test/usr-skeleton:1"
CI_USER = "1001:1001"  # in the skeleton's /etc/passwd as "ci"


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


def seccomp_without_userns(directory: Path) -> Path:
    """A seccomp profile that allows everything but user namespaces: ``unshare`` and
    ``clone`` with CLONE_NEWUSER fail with EPERM, ``clone3`` with ENOSYS (its flags sit in
    memory a filter cannot read; libc then falls back to ``clone``)."""
    newuser = 0x10000000
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1,
                "args": [
                    {"index": 0, "value": newuser, "valueTwo": newuser, "op": "SCMP_CMP_MASKED_EQ"}
                ],
            },
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ],
    }
    path = directory / "seccomp-no-userns.json"
    path.write_text(json.dumps(profile))
    return path


def skeleton_image(docker_daemon: DockerDaemon, work: Path) -> str:
    """The skeleton image's tag, imported into the daemon on first use."""
    if not docker_daemon.image_exists(SKELETON_IMAGE):
        tarball = work / "skeleton.tar"
        tarball.write_bytes(_skeleton())
        docker_daemon.import_rootfs(tarball, SKELETON_IMAGE)
    return SKELETON_IMAGE


def run_python(
    docker_daemon: DockerDaemon,
    image: str,
    args: list[str],
    *,
    user: str = "0:0",
    volumes: dict[Path, str] | None = None,
    network_host: bool = False,
    timeout: float = 300,
    security_opts: tuple[str, ...] = (),
    extra_args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[bytes]:
    """``python3 ARGS`` in a fresh container with docker's default seccomp profile.

    ``volumes`` maps host paths to ``/container/path[:ro]``; ``security_opts`` are
    ``--security-opt`` values (another seccomp profile), ``extra_args`` more ``docker run``
    options (``--cap-add``). Returns the finished process
    whatever its exit code.
    """
    project_path()  # installs the dependencies into DEPS_DIR
    mounts = [*extra_args, *(arg for opt in security_opts for arg in ("--security-opt", opt))]
    for host, inside in (volumes or {}).items():
        mounts += ["-v", f"{host}:{inside}"]
    return docker_daemon.run(
        "run", "--rm", "--user", user, *(["--network", "host"] if network_host else []),
        "-v", "/usr:/usr:ro", "-v", f"{REPO}:/src:ro", "-v", f"{DEPS_DIR}:/deps:ro", *mounts,
        "-e", "PYTHONPATH=/src:/deps", "-e", "PYTHONDONTWRITEBYTECODE=1", "-w", "/tmp",
        image, "/usr/bin/python3", *args,
        check=False, timeout=timeout,
    )  # fmt: skip
