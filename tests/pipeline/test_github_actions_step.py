"""The example workflow's build step, run as GitHub runs a ``container:`` job's step.

GitHub starts the job container with its entrypoint replaced and runs each ``run:`` step
with ``sh -e`` as root, under docker's default seccomp profile, in the checkout at
``$GITHUB_WORKSPACE``. The same here, with the tool's image and the step's text as written
(``${{ github.sha }}`` filled in); the tarball the step writes is checked on the host.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_imagebuild.image import Image
from tests.pipeline.jobs import DOCKERFILE, workspace
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

WORKFLOW = (
    Path(__file__).resolve().parents[2] / "docs" / "examples" / "github-actions" / "image.yml"
)
SHA = "0123456789abcdef0123456789abcdef01234567"
CHECKOUT = "/__w/app/app"


def test_the_build_step_runs_in_the_tools_image(
    docker_daemon: DockerDaemon, own_image: str, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["build"]["steps"]
    script = next(step["run"] for step in steps if step.get("name") == "Build")
    script = script.replace("${{ github.sha }}", SHA)
    assert "${{" not in script
    context, _ = workspace(tmp_path, busybox_rootfs_tar, DOCKERFILE)
    context.chmod(0o777)  # the step writes image.tar into the checkout
    done = docker_daemon.run(
        "run", "--rm", "--entrypoint", "", "-v", f"{context}:{CHECKOUT}", "-w", CHECKOUT,
        "-e", f"GITHUB_WORKSPACE={CHECKOUT}", own_image, "sh", "-e", "-c", script,
        check=False, timeout=300,
    )  # fmt: skip
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output
    with Image.open(context / "image.tar") as image:
        assert image.repo_tags == (f"registry.example.com/app:{SHA}",)
        assert image.file("/hello").uid == 1000
        assert image.user == "app"
