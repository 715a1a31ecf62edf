"""The tool's own image (the Dockerfile at the top of the repository), built by imagebuild.

Its tarball is opened to check what a kaniko user relies on, then it is loaded into the
reference daemon and runs a build of a small Dockerfile from ``/workspace`` the way CI
runners run it: as root under docker's default seccomp profile (GitLab's docker executor),
and as a non-root user with and without a subordinate id range in the image's /etc/subuid.
Each tarball it writes is opened and checked here on the host.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.pipeline.images import PipelineImages
from tests.pipeline.jobs import DOCKERFILE, root_owned, run_build, workspace
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

SUBUID_USER = "1001:1001"  # "imagebuild" in the image, with /etc/subuid and /etc/subgid ranges
PLAIN_USER = "2000:2000"  # no passwd entry, no range: the usual non-root CI container
UNCONFINED = ("--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined")
CHOWN_FIRST = """\
FROM scratch
ADD rootfs.tar /
RUN touch /hello && chown 1000:1000 /hello
"""
ROOT_ONLY = """\
FROM scratch
ADD rootfs.tar /
RUN echo built-inside > /hello && chmod 640 /hello && id -u > /uid
"""


def test_the_image_has_what_kaniko_jobs_use(built_images: PipelineImages) -> None:
    with Image.open(built_images.own) as image:
        assert image.entrypoint == ("/usr/local/bin/imagebuild",)
        assert image.workdir == "/workspace"
        assert image.env["DOCKER_CONFIG"] == "/kaniko/.docker"
        assert image.file("/kaniko/executor").linked_to == "/usr/local/bin/imagebuild"
        assert image.file("/kaniko/.docker").is_dir
        assert image.file("/usr/local/bin/imagebuild").mode & 0o755 == 0o755
        for tool, cap in (("newuidmap", "cap_setuid=ep"), ("newgidmap", "cap_setgid=ep")):
            assert image.file(f"/usr/bin/{tool}").capabilities == cap
            assert image.file(f"/usr/bin/{tool}").mode == 0o755  # not setuid
        assert image.glob("/usr/lib/x86_64-linux-gnu/libseccomp.so.2*")
        assert image.file("/usr/bin/python3.11").is_file
        assert image.file("/bin/sh").exists
        assert image.user in ("", "root")
        assert image.file("/etc/subuid").read_text() == "imagebuild:100000:65536\n"
        assert image.file("/etc/subgid").read_text() == "imagebuild:100000:65536\n"
        assert image.file("/home/imagebuild").uid == 1001
        assert image.glob("/usr/local/lib/python3.11/dist-packages/pytest_imagebuild/cli.py")
        # The CA secret pip used and the package sources never reach a layer.
        for pattern in ("/run/secrets/**", "/usr/src/pytest-imagebuild/**", "**/tests/pipeline"):
            assert image.glob(pattern, all_layers=True) == [], pattern


@pytest.mark.parametrize(
    ("options", "command"),
    [
        ((), ("--no-push", "--tar-path", "/out/image.tar")),
        (
            ("--entrypoint", ""),
            (
                "/bin/sh",
                "-c",
                "cd / && /kaniko/executor --context /workspace "
                "--dockerfile /workspace/Dockerfile --no-push --tar-path /out/image.tar",
            ),
        ),
    ],
    ids=["entrypoint", "kaniko-path-in-a-shell"],
)
def test_root_under_the_default_seccomp_profile(
    docker_daemon: DockerDaemon,
    own_image: str,
    busybox_rootfs_tar: Path,
    tmp_path: Path,
    options: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """GitLab's docker executor: root, docker's default capabilities and seccomp profile."""
    context, out = workspace(tmp_path, busybox_rootfs_tar, DOCKERFILE)
    code, output = run_build(
        docker_daemon, own_image, context, out, options=options, command=command
    )
    assert code == 0, output
    assert "chroot" in output  # the sandbox mode it picked, on standard error
    with Image.open(out / "image.tar") as image:
        hello = image.file("/hello")
        assert (hello.read_text(), hello.mode, hello.uid, hello.gid) == (
            "built-inside\n",
            0o640,
            1000,
            1000,
        )
        assert image.file("/tmp/uid").read_text() == "1000\n"
        assert image.user == "app"
        assert image.repo_tags == ("unset-repo/unset-image-name:latest",)


@pytest.mark.parametrize("with_subuid", [True, False], ids=["subuid-range", "no-subuid-range"])
def test_non_root_under_the_default_seccomp_profile_is_refused(
    docker_daemon: DockerDaemon,
    own_image: str,
    busybox_rootfs_tar: Path,
    tmp_path: Path,
    with_subuid: bool,
) -> None:
    """User namespaces are refused there: the error names the cause and both remedies."""
    context, out = workspace(tmp_path, busybox_rootfs_tar, ROOT_ONLY)
    user = SUBUID_USER if with_subuid else PLAIN_USER
    code, output = run_build(docker_daemon, own_image, context, out, options=("--user", user))
    assert code == 1, output
    assert "cannot create a user namespace" in output
    assert "seccomp=unconfined" in output
    assert "as root" in output
    assert "Traceback" not in output
    assert list(out.iterdir()) == []  # no partial tarball


def test_non_root_with_a_subuid_range_builds_every_step(
    docker_daemon: DockerDaemon, own_image: str, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """Seccomp and AppArmor unconfined, docker's default capabilities: newuidmap (with file
    capabilities, not setuid) maps the /etc/subuid range, and every step builds."""
    context, out = workspace(tmp_path, busybox_rootfs_tar, DOCKERFILE)
    options = ("--user", SUBUID_USER, *UNCONFINED)
    code, output = run_build(docker_daemon, own_image, context, out, options=options)
    assert code == 0, output
    assert "rootless user namespace, full uid map (65537 ids)" in output
    with Image.open(out / "image.tar") as image:
        hello = image.file("/hello")
        assert (hello.read_text(), hello.mode, hello.uid, hello.gid) == (
            "built-inside\n",
            0o640,
            1000,
            1000,
        )
        assert image.file("/tmp/uid").read_text() == "1000\n"
        assert image.file("/home/app").uid == 1000  # ADD kept the base's owners


def single_map_workspace(tmp_path: Path, rootfs_tar: Path, dockerfile: str) -> tuple[Path, Path]:
    context, out = workspace(tmp_path, rootfs_tar, dockerfile)
    root_owned(context / "rootfs.tar", context / "root-owned.tar")
    (context / "root-owned.tar").replace(context / "rootfs.tar")
    (context / "rootfs.tar").chmod(0o644)
    return context, out


def test_non_root_without_a_range_refuses_other_ids(
    docker_daemon: DockerDaemon, own_image: str, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """A user with no /etc/subuid range gets the single-uid map: only uid 0 exists, and the
    error gives the remedy (subordinate ids with usermod, newuidmap)."""
    user = PLAIN_USER
    context, out = single_map_workspace(tmp_path, busybox_rootfs_tar, CHOWN_FIRST)
    code, output = run_build(
        docker_daemon, own_image, context, out, options=("--user", user, *UNCONFINED)
    )
    assert code == 1, output
    mode_line = output.splitlines()[0]
    assert "imagebuild: sandbox: " in mode_line, output
    assert "single" in mode_line
    assert f"(0 -> {user.split(':')[0]}" in mode_line  # only the user's own id is mapped
    assert "/workspace/Dockerfile:3" in output  # RUN touch /hello && chown 1000:1000 /hello
    assert "usermod --add-subuids" in output  # the remedy: subordinate ids for the user
    assert "newuidmap" in output
    assert "Traceback" not in output
    assert list(out.iterdir()) == []


def test_non_root_without_a_range_runs_steps_as_root(
    docker_daemon: DockerDaemon, own_image: str, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """A single-uid build must run every step that needs no other id."""
    user = PLAIN_USER
    context, out = single_map_workspace(tmp_path, busybox_rootfs_tar, ROOT_ONLY)
    code, output = run_build(
        docker_daemon, own_image, context, out, options=("--user", user, *UNCONFINED)
    )
    assert code == 0, output
    with Image.open(out / "image.tar") as image:
        assert image.file("/hello").read_text() == "built-inside\n"
        assert image.file("/uid").read_text() == "0\n"
