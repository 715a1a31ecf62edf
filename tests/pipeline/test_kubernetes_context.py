"""The root Job's securityContext is enough for a build: the same settings, given to docker.

docs/examples/kubernetes/build-job.yaml drops every capability but the ones a build uses,
forbids privilege escalation and keeps the runtime's default seccomp profile. Docker's
equivalents (``--cap-drop ALL --cap-add ...``, ``--security-opt no-new-privileges``, its
default profile) run the tool's image on a Dockerfile that chowns, switches user and makes
a setuid file; the tarball must show all of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_imagebuild.image import Image
from tests.pipeline.test_own_image import run_build, workspace
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

JOB = Path(__file__).resolve().parents[2] / "docs" / "examples" / "kubernetes" / "build-job.yaml"
DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
RUN echo k8s > /hello && chown 1000:1000 /hello && chmod 4750 /hello && mknod /fifo p
USER app
RUN id -u > /tmp/uid
"""


def docker_options(context: dict[str, Any]) -> list[str]:
    """The docker run flags that mean what the container's securityContext says."""
    options = ["--user", f"{context['runAsUser']}:{context['runAsGroup']}"]
    if context["allowPrivilegeEscalation"] is False:
        options += ["--security-opt", "no-new-privileges"]
    if context["seccompProfile"]["type"] != "RuntimeDefault":
        raise AssertionError(f"unexpected seccomp profile {context['seccompProfile']}")
    caps = context["capabilities"]
    options += [f"--cap-drop={cap}" for cap in caps.get("drop", [])]
    options += [f"--cap-add={cap}" for cap in caps.get("add", [])]
    return options


def test_the_root_jobs_security_context_builds(
    docker_daemon: DockerDaemon, own_image: str, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    job = yaml.safe_load(JOB.read_text())
    container = job["spec"]["template"]["spec"]["containers"][0]
    options = docker_options(container["securityContext"])
    context, out = workspace(tmp_path, busybox_rootfs_tar, DOCKERFILE)
    code, output = run_build(docker_daemon, own_image, context, out, options=tuple(options))
    assert code == 0, output
    assert "chroot" in output
    with Image.open(out / "image.tar") as image:
        hello = image.file("/hello")
        assert (hello.mode, hello.uid, hello.gid) == (0o4750, 1000, 1000)
        assert image.file("/fifo").type == "fifo"
        assert image.file("/tmp/uid").read_text() == "1000\n"
