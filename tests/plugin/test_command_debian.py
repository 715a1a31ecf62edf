"""``image.run`` on the Debian base: dash as /bin/sh, useradd's groups, as ``docker run``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.runner import SandboxRunner
from pytest_imagebuild.plugin.structure_checks import CHECKS
from pytest_imagebuild.plugin.structure_suite import load_suite
from tests.structure.images import build_image
from tests.support.docker import DockerDaemon

DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
RUN useradd --create-home --groups audio,video tester
WORKDIR /home/tester
USER tester
CMD ["bash", "-c", "id; pwd; echo $HOME"]
"""
TAG = "imagebuild-test/command-debian:1"


@pytest.fixture(scope="module")
def debian_tar(debian_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("command-debian")
    return build_image(debian_rootfs_tar, work, DOCKERFILE, {}, tag=TAG)


@pytest.fixture(scope="module")
def debian(debian_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    with Image.open(debian_tar) as opened:
        opened.runner = SandboxRunner(tmp_path_factory.mktemp("debian-run"))
        yield opened


@pytest.fixture(scope="module")
def loaded(docker_daemon: DockerDaemon, debian_tar: Path) -> str:
    docker_daemon.load(debian_tar)
    return TAG


ENV = "env | grep -v ^HOSTNAME= | sort; ls -a /tmp"


@pytest.mark.parametrize(
    ("options", "args", "kwargs"),
    [
        ([], [], {}),
        (["-u", "root", "--entrypoint", "id"], [], {"user": "root", "entrypoint": "id"}),
        (["--entrypoint", "/bin/sh"], ["-c", ENV], {"command": ENV}),
    ],
    ids=["cmd-as-useradd-user", "root-groups", "dash-env"],
)
def test_debian_run_matches_docker_run(
    docker_daemon: DockerDaemon,
    loaded: str,
    debian: Image,
    options: list[str],
    args: list[str],
    kwargs: dict[str, Any],
) -> None:
    reference = docker_daemon.run("run", "--rm", *options, loaded, *args, check=False, timeout=120)
    ours = debian.run(**kwargs)
    assert (ours.exit_code, ours.stdout_text, ours.stderr_text) == (
        reference.returncode,
        reference.stdout.decode(),
        reference.stderr.decode(),
    )


def test_debian_license_test_on_a_real_debian(debian: Image, tmp_path: Path) -> None:
    suite_file = tmp_path / "lic.yaml"
    suite_file.write_text("schemaVersion: 2.0.0\nlicenseTests:\n  - debian: true\n")
    suite = load_suite(suite_file)
    problems, _ = CHECKS["licenseTests"](debian, suite, suite.cases[0])
    packages = debian.listdir("/usr/share/doc")
    assert len(packages) > 50
    # bookworm's perl ships /usr/share/doc/perl without a copyright file (perl-base has it);
    # CST's Debian check reports it too. Nothing in the minbase mentions AGPL or WTFPL.
    assert problems == ["/usr/share/doc/perl/copyright: cannot read the license file (missing)"]
