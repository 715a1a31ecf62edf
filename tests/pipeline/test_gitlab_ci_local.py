"""The example GitLab pipeline, run by gitlab-ci-local with the tool's image as the job image.

docs/examples/gitlab-ci/ is the project: kaniko's build job (``/kaniko/executor --context
--dockerfile --destination --no-push --tar-path``) with only the image name changed, then a
test job running pytest on the kept tarball with JUnit output. gitlab-ci-local runs both jobs
in containers of the reference daemon as GitLab's docker executor would; its helper image
(bash and rsync, built by imagebuild from the Debian base) is local because the default one
cannot be pulled here. Both jobs must pass, the artifact must be the image the Dockerfile
describes, and the JUnit report must list the test job's tests, all passed.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
import yaml

from pytest_imagebuild.image import Image
from tests.support.docker import DockerDaemon
from tests.support.registry import RegistryFactory

pytestmark = pytest.mark.docker

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gitlab-ci"
GITLAB_CI_LOCAL = "gitlab-ci-local"
VERSION = "4.60.1"  # the last release that runs on Node 20; scripts/setup installs it


def gitlab_ci_local() -> str:
    path = shutil.which(GITLAB_CI_LOCAL)
    if path is None:
        pytest.fail(f"{GITLAB_CI_LOCAL} is not on PATH: run scripts/setup", pytrace=False)
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    if done.stdout.strip() != VERSION:
        pytest.fail(
            f"{path} --version says {done.stdout.strip() or done.stderr.strip()!r}, "
            f"not {VERSION}: run scripts/setup",
            pytrace=False,
        )
    return path


def job_image(ci_file: Path, jobs: tuple[str, ...] = ("build", "test-image")) -> str:
    """The image the jobs name (the one line that differs from kaniko's job)."""
    config = yaml.safe_load(ci_file.read_text())
    names = {config[job]["image"]["name"] for job in jobs}
    assert len(names) == 1, names
    return names.pop()


def make_project(tmp_path: Path, rootfs_tar: Path) -> Path:
    """The example as a git repository (gitlab-ci-local reads it), with its base root."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "base").mkdir()
    shutil.copyfile(rootfs_tar, project / "base" / "rootfs.tar")
    git = ["git", "-C", str(project), "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["remote", "add", "origin", "https://gitlab.example.com/group/web.git"],
        ["add", "--all"],
        ["commit", "--quiet", "--message", "example"],
    ):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return project


def run_pipeline(
    docker_daemon: DockerDaemon, tool: str, project: Path, helper_image: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """gitlab-ci-local on ``project`` with the local helper image and the host's network."""
    return subprocess.run(
        [
            tool, "--helper-image", helper_image, "--network", "host",
            "--pull-policy", "if-not-present", "--artifacts-to-source", "--no-color", *extra,
        ],
        cwd=project, capture_output=True, text=True, timeout=600, env=docker_daemon.env(),
        check=False,
    )  # fmt: skip


def test_the_pipeline_runs_as_written(
    docker_daemon: DockerDaemon,
    own_image: str,
    helper_image: str,
    busybox_rootfs_tar: Path,
    tmp_path: Path,
) -> None:
    tool = gitlab_ci_local()
    project = make_project(tmp_path, busybox_rootfs_tar)
    docker_daemon.run("tag", own_image, job_image(project / ".gitlab-ci.yml"))
    before = gitlab_ci_local_objects(docker_daemon)
    done = run_pipeline(docker_daemon, tool, project, helper_image)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "build " in output
    assert "test-image " in output
    assert "PASS" in output
    assert gitlab_ci_local_objects(docker_daemon) == before  # no job container or volume left

    artifact = project / "image.tar"
    assert artifact.is_file(), sorted(p.name for p in project.iterdir())
    with Image.open(artifact) as image:
        assert image.user == "app"
        assert image.file("/srv/www/index.html").contains("built in CI")
        assert image.repo_tags == (
            "local-registry.gitlab.example.com/group/web:" + short_sha(project),
        )

    report = ET.parse(project / "report.xml").getroot()
    suite = report if report.tag == "testsuite" else report.find("testsuite")
    assert suite is not None
    counts = {key: int(suite.get(key, "-1")) for key in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": 3, "failures": 0, "errors": 0, "skipped": 0}
    names = sorted(case.get("name", "") for case in suite.iter("testcase"))
    assert names == [
        "test_nothing_of_the_pipeline_in_the_image",
        "test_runs_as_the_unprivileged_user",
        "test_the_page_belongs_to_the_user",
    ]


def short_sha(project: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "--short=8", "HEAD"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def gitlab_ci_local_objects(docker_daemon: DockerDaemon) -> tuple[set[str], set[str]]:
    """The containers (running or not) that mount one of gitlab-ci-local's ``gcl-`` volumes,
    and those volumes: other tests share the daemon, so nothing else is counted."""
    listed = docker_daemon.run("ps", "--all", "--format", "{{.ID}} {{.Mounts}}").stdout.decode()
    containers = {
        line.split()[0]
        for line in listed.splitlines()
        if any(mount.startswith("gcl-") for mount in line.partition(" ")[2].split(","))
    }
    volumes = docker_daemon.run("volume", "ls", "--format", "{{.Name}}").stdout.decode()
    return containers, {name for name in volumes.split() if name.startswith("gcl-")}


def test_kanikos_push_job_runs_as_written(
    docker_daemon: DockerDaemon,
    own_image: str,
    helper_image: str,
    busybox_rootfs_tar: Path,
    registry: RegistryFactory,
    tmp_path: Path,
) -> None:
    """push.gitlab-ci.yml: kaniko's documented job writes /kaniko/.docker/config.json from
    the CI_REGISTRY variables and pushes to a registry with basic auth on the loopback
    interface, which the job container reaches through ``--network host``."""
    tool = gitlab_ci_local()
    reg = registry(auth="basic")
    project = make_project(tmp_path, busybox_rootfs_tar)
    docker_daemon.run(
        "tag", own_image, job_image(project / "push.gitlab-ci.yml", ("build-and-push",))
    )
    done = run_pipeline(
        docker_daemon, tool, project, helper_image, "--file", "push.gitlab-ci.yml",
        "--variable", f"CI_REGISTRY={reg.host}",
        "--variable", f"CI_REGISTRY_IMAGE={reg.host}/group/web",
        "--variable", f"CI_REGISTRY_USER={reg.username}",
        "--variable", f"CI_REGISTRY_PASSWORD={reg.password}",
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert reg.username is not None
    assert reg.password is not None
    assert reg.password not in output  # the job log shows the script, not the secret
    auth = (reg.username, reg.password)
    tags = httpx.get(f"{reg.url}/v2/group/web/tags/list", auth=auth, timeout=10).json()
    assert tags["tags"] == [short_sha(project)]
    manifest = httpx.get(
        f"{reg.url}/v2/group/web/manifests/{short_sha(project)}",
        auth=auth,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                 "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )  # fmt: skip
    assert manifest.status_code == 200, manifest.text
    assert len(manifest.json()["layers"]) == 2  # ADD and RUN
