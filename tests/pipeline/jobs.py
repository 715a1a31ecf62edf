"""Builds in the tool's image as CI runs them: a context for /workspace, ``docker run``.

Shared by the tests of the image, the GitHub step and the Kubernetes Jobs.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from tests.support.docker import DockerDaemon

DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
RUN echo built-inside > /hello && chmod 640 /hello
RUN chown 1000:1000 /hello
USER app
RUN id -u > /tmp/uid
"""


def root_owned(rootfs_tar: Path, dest: Path) -> Path:
    """``rootfs_tar`` with every entry owned by 0:0: a base that needs no other id."""
    with tarfile.open(rootfs_tar) as source, tarfile.open(dest, "w") as target:
        for member in source.getmembers():
            member.uid = member.gid = 0
            fileobj = source.extractfile(member) if member.isreg() else None
            target.addfile(member, fileobj)
    return dest


def workspace(tmp_path: Path, rootfs_tar: Path, dockerfile: str) -> tuple[Path, Path]:
    """A build context for /workspace and an output directory any user may write."""
    context, out = tmp_path / "ctx", tmp_path / "out"
    context.mkdir()
    out.mkdir()
    shutil.copyfile(rootfs_tar, context / "rootfs.tar")
    (context / "Dockerfile").write_text(dockerfile)
    for path in (context / "rootfs.tar", context / "Dockerfile"):
        path.chmod(0o644)
    for directory in (tmp_path, context):
        directory.chmod(0o755)
    out.chmod(0o777)
    return context, out


def run_build(
    docker_daemon: DockerDaemon,
    image: str,
    context: Path,
    out: Path,
    *,
    options: tuple[str, ...] = (),
    command: tuple[str, ...] = ("--no-push", "--tar-path", "/out/image.tar"),
) -> tuple[int, str]:
    """``docker run`` the image on the context; returns exit code and combined output."""
    done = docker_daemon.run(
        "run", "--rm", *options, "-v", f"{context}:/workspace:ro", "-v", f"{out}:/out",
        image, *command, check=False, timeout=300,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")
