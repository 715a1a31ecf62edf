"""Each Kubernetes Job's securityContext is enough for a build: the same settings, in docker.

docs/examples/kubernetes/build-job.yaml runs as root, drops every capability but the ones a
build uses, forbids privilege escalation and keeps the runtime's default seccomp profile;
build-job-rootless.yaml runs as uid 1001 with seccomp and AppArmor unconfined. Docker's
equivalents (``--user``, ``--cap-drop``/``--cap-add``, ``no-new-privileges``, its default or
an unconfined profile) run the tool's image on a Dockerfile that chowns, sets a setuid bit,
makes a fifo and switches user; the tarball must show all of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_imagebuild.image import Image
from tests.pipeline.jobs import run_build, workspace
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

JOBS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "kubernetes"
DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
RUN echo k8s > /hello && chown 1000:1000 /hello && chmod 4750 /hello && mknod /fifo p
USER app
RUN id -u > /tmp/uid
"""
PROFILES = {"RuntimeDefault": None, "Unconfined": "unconfined"}


def docker_options(context: dict[str, Any]) -> list[str]:
    """The docker run flags that mean what a pod and container securityContext say."""
    options = ["--user", f"{context['runAsUser']}:{context['runAsGroup']}"]
    if context["allowPrivilegeEscalation"] is False:
        options += ["--security-opt", "no-new-privileges"]
    for field, name in (("seccompProfile", "seccomp"), ("appArmorProfile", "apparmor")):
        profile = PROFILES[context.get(field, {"type": "RuntimeDefault"})["type"]]
        if profile is not None:
            options += ["--security-opt", f"{name}={profile}"]
    caps = context.get("capabilities", {})
    options += [f"--cap-drop={cap}" for cap in caps.get("drop", [])]
    options += [f"--cap-add={cap}" for cap in caps.get("add", [])]
    return options


@pytest.mark.parametrize(
    ("manifest", "mode"),
    [
        ("build-job.yaml", "root, no user namespace, chroot only"),
        ("build-job-rootless.yaml", "rootless user namespace, full uid map (65537 ids)"),
    ],
)
def test_the_jobs_security_context_builds(
    docker_daemon: DockerDaemon,
    own_image: str,
    busybox_rootfs_tar: Path,
    tmp_path: Path,
    manifest: str,
    mode: str,
) -> None:
    job = yaml.safe_load((JOBS / manifest).read_text())
    pod = job["spec"]["template"]["spec"]
    context = {**pod.get("securityContext", {}), **pod["containers"][0]["securityContext"]}
    assert context["privileged"] is False
    workdir, out = workspace(tmp_path, busybox_rootfs_tar, DOCKERFILE)
    options = tuple(docker_options(context))
    # The Job's own arguments; a tarball instead of the push to a registry that is not here.
    command = (*pod["containers"][0]["args"], "--no-push", "--tar-path", "/out/image.tar")
    code, output = run_build(
        docker_daemon, own_image, workdir, out, options=options, command=command
    )
    assert code == 0, output
    assert f"imagebuild: sandbox: {mode}" in output
    with Image.open(out / "image.tar") as image:
        hello = image.file("/hello")
        assert (hello.mode, hello.uid, hello.gid) == (0o4750, 1000, 1000)
        assert image.file("/fifo").type == "fifo"
        assert image.file("/tmp/uid").read_text() == "1000\n"
        assert image.repo_tags == ("registry.example.com/app:1.0.0",)  # its --destination
