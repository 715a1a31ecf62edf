"""``--imagebuild-executor docker`` and ``--imagebuild-parity docker`` on the suite's daemon."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import testcontainers.core.container  # noqa: F401  (before pytester's sys.modules snapshot)

from tests.plugin.buildproject import build_project
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

APP = """\
FROM scratch AS base
ADD rootfs.tar /

FROM base AS build
ARG FLAVOUR=plain
ARG RUN_ID=none
RUN mkdir -p /out && echo "$FLAVOUR" > /out/flavour && chmod 0640 /out/flavour
RUN echo "$RUN_ID" > /out/run-id

FROM base
COPY --from=build /out/ /srv/
COPY app.conf /etc/app.conf
RUN echo "app:x:1234:1234::/srv:/bin/sh" >> /etc/passwd \\
 && chown 1234 /srv/flavour && ln -s /srv/flavour /flavour
ENV APP_MODE=test
LABEL org.example.kind=app
USER app
WORKDIR /srv
EXPOSE 9000/udp
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/flavour"]
"""

CHECKS = """\
import pytest
from pytest_imagebuild import assert_env, assert_file

pytestmark = pytest.mark.dockerfile()


def test_files(image):
    assert_file(image, "/srv/flavour", type="file", mode=0o640, uid=1234, contains="plain")
    assert_file(image, "/etc/app.conf", contains="x=1", uid=0, size=4)
    assert image.file("/flavour").linked_to == "/srv/flavour"
    assert "/out" not in image


def test_config(image):
    assert_env(image, APP_MODE="test")
    assert image.user == "app"
    assert image.workdir == "/srv"
    assert image.labels == {"org.example.kind": "app"}
    assert image.entrypoint == ("/bin/sh", "-c")
    assert image.cmd == ("cat /srv/flavour",)
    assert image.exposed_ports == ("9000/udp",)
    assert len(image.layers) == 4
    assert image.file("/srv/run-id").size == 33


@pytest.mark.dockerfile(build_args={"FLAVOUR": "spicy"}, target="build")
def test_target_and_build_args(image):
    assert image.file("/out/flavour").read_text() == "spicy\\n"
    assert "/etc/app.conf" not in image
"""

FAILING = """\
FROM scratch
ADD rootfs.tar /
RUN echo preparing; echo broken >&2; exit 3
"""

STAMPED = """\
FROM scratch
ADD rootfs.tar /
RUN mkdir /srv && echo plain > /srv/flavour
RUN date +%s%N > /built-at
"""

# COPY --chmod needs BuildKit in docker 20.10: the legacy builder refuses it
CHMOD = """\
FROM scratch
ADD rootfs.tar /
COPY --chmod=0600 app.conf /srv/flavour
"""

PARITY_TESTS = """\
import pytest

pytestmark = pytest.mark.dockerfile()


def test_flavour(image):
    assert image.file("/srv/flavour").read_text() == "plain\\n"
"""


OURS = ("imagebuild-build/", "imagebuild/test_")


@pytest.fixture
def daemon_env(docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch) -> DockerDaemon:
    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    return docker_daemon


@pytest.fixture
def client(daemon_env: DockerDaemon) -> Iterator[docker.DockerClient]:
    sdk = docker.DockerClient(base_url=daemon_env.host, timeout=60)
    yield sdk
    sdk.close()


def leftovers(client: docker.DockerClient) -> list[str]:
    """Images the docker executor tagged in a pytester run, still in the daemon."""
    return [t for image in client.images.list() for t in image.tags if t.startswith(OURS)]


def inspected(client: docker.DockerClient, image_id: str) -> str:
    """``docker image inspect`` as text; empty when the image went meanwhile."""
    try:
        return json.dumps(client.images.get(image_id).attrs)
    except docker.errors.NotFound:
        return ""


def project(pytester: pytest.Pytester, rootfs: Path, dockerfile: str, tests: str) -> None:
    files = {"Dockerfile": dockerfile, "app.conf": "x=1\n", "test_app.py": tests}
    build_project(pytester, rootfs, files)


def test_docker_executor_feeds_the_same_fixtures_and_agrees(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, client: docker.DockerClient
) -> None:
    """The tests see docker's image; parity with the embedded executor finds no difference
    on a multi-stage build with owners, modes, links and config."""
    project(pytester, busybox_rootfs_tar, APP, CHECKS)
    before = {image.id for image in client.images.list(all=True)}
    run_id = uuid.uuid4().hex  # fresh step images, none from docker's cache
    result = pytester.runpytest(
        *("-p", "no:cacheprovider", "-v", "--imagebuild-build-arg", f"RUN_ID={run_id}"),
        *("--imagebuild-executor", "docker", "--imagebuild-parity", "embedded"),
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["imagebuild: build cache * (executor docker, parity with embedded), sandbox: *"]
    )
    # two specs, two executors, one summary
    result.stdout.fnmatch_lines(["built  *Dockerfile [[]docker[]]: *"])
    result.stdout.fnmatch_lines(["built  *Dockerfile: *, steps: *"])
    result.stdout.fnmatch_lines(["images: 4 built in *, 0 reused, 0 failed; *"])
    assert leftovers(client) == []
    # no step image of the build is left, not even those of the build stage
    new = [image for image in client.images.list(all=True) if image.id not in before]
    assert [image.id for image in new if run_id in inspected(client, image.id)] == []


def test_docker_executor_failure_is_reported(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, client: docker.DockerClient
) -> None:
    project(pytester, busybox_rootfs_tar, FAILING, PARITY_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--imagebuild-executor", "docker")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "E   pytest_imagebuild.errors.BuildError: *Dockerfile: docker build failed: "
            "The command '/bin/sh -c echo preparing; echo broken >&2; exit 3' returned a "
            "non-zero code: 3",
            "*instruction: RUN echo preparing; echo broken >&2; exit 3",
            "*exit code: 3",
            "*imagebuild build log*",
            "Step 3/3 : RUN echo preparing*",
            "preparing",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert leftovers(client) == []


def test_parity_fails_on_a_difference_and_shows_it(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, client: docker.DockerClient
) -> None:
    project(
        pytester,
        busybox_rootfs_tar,
        STAMPED,
        PARITY_TESTS + PARITY_TESTS.replace("def test_flavour", "def test_again"),
    )
    cache = ["--imagebuild-cache-dir", "out/cache", "-p", "no:cacheprovider"]
    result = pytester.runpytest(*cache, "--imagebuild-parity", "docker")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "E   pytest_imagebuild.errors.ParityError: parity: embedded and docker built "
            "different images from *Dockerfile (old: embedded, new: docker):",
            "      files changed (1):",
            "        /built-at: sha256: *",
            "      hint: make the step reproducible, or ignore what may differ with "
            "--imagebuild-parity-ignore RULE*",
        ]
    )
    assert result.stdout.str().count("images: 2 built") == 1  # compared once for both tests
    # the rule lets the difference through; both images come from the cache
    result = pytester.runpytest(
        *cache, "--imagebuild-parity", "docker", "--imagebuild-parity-ignore", "/built-at"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["images: 0 built in *, 2 reused, 0 failed; *"])
    # the other way round: docker's image for the tests, the embedded executor's to compare
    result = pytester.runpytest(
        *cache, "--imagebuild-executor", "docker", "--imagebuild-parity", "embedded"
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "E   *ParityError: parity: docker and embedded built different images from "
            "*Dockerfile (old: docker, new: embedded):",
            "images: 0 built in *, 2 reused, 0 failed; *",
        ]
    )
    assert leftovers(client) == []


def test_parity_reports_the_other_executor_failing(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, client: docker.DockerClient
) -> None:
    project(pytester, busybox_rootfs_tar, CHMOD, PARITY_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--imagebuild-parity", "docker")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "E   pytest_imagebuild.errors.BuildError: *Dockerfile: parity: the docker executor "
            "failed where embedded built *Dockerfile: docker build failed: *--chmod*",
            "*imagebuild build log*",
            "Step 3/3 : COPY --chmod=0600 app.conf /srv/flavour",
        ]
    )
    assert leftovers(client) == []


def test_parity_needs_another_executor(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--imagebuild-parity", "embedded")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --imagebuild-parity: 'embedded' is not another executor than 'embedded' "
            "(available: docker)"
        ]
    )
