"""``image_container``: the built image started on the suite's docker daemon.

Each test builds a small busybox service with the embedded executor in a pytester project,
starts it with the fixture and waits for it (log line, HTTP, the image's HEALTHCHECK). After
every run the daemon is asked, through the SDK, for containers with the fixture's label and
for the images the runs loaded: none may be left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

# imported before pytester snapshots sys.modules, so the inner runs share these modules
import testcontainers.core.container
import testcontainers.core.wait_strategies  # noqa: F401

from pytest_imagebuild.plugin.containers import LABEL
from tests.plugin.buildproject import build_project
from tests.plugin.imagetar import write_sample
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

SERVICE = """\
FROM scratch
ADD rootfs.tar /
RUN mkdir -p /www && echo ok > /www/healthz && echo hello from the image > /www/index.html
EXPOSE 8080
HEALTHCHECK --interval=1s --timeout=2s --retries=3 \\
    CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz
CMD ["sh", "-c", "echo serving on 8080; exec httpd -f -vv -p 8080 -h /www"]
"""

TESTS = """\
import re
import urllib.request

import pytest

pytestmark = pytest.mark.dockerfile()


def get(container, path="/"):
    host = container.get_container_host_ip()
    port = container.get_exposed_port(8080)
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as answer:
        return answer.read().decode()


def test_http(image_container):
    container = image_container(ports=[8080], wait_for_http="/healthz", timeout=30)
    assert get(container) == "hello from the image\\n"


def test_log_line(image_container):
    container = image_container(ports=[8080], wait_for_log=re.compile("serving on 8080"))
    assert "hello" in get(container)


def test_healthcheck(image_container):
    container = image_container(ports=[8080], wait_for_healthy=True, timeout=30)
    state = container.get_wrapped_container().attrs["State"]
    assert state["Health"]["Status"] == "healthy"


def test_env_and_command(image_container):
    container = image_container(
        env={"GREETING": "bonjour"},
        command=["sh", "-c", "echo $GREETING from the command; sleep 30"],
        wait_for_log="bonjour from the command",
    )
    out, _ = container.get_logs()
    assert out.decode() == "bonjour from the command\\n"


def test_never_ready(image_container):
    image_container(command=["sh", "-c", "echo still starting; sleep 60"],
                    wait_for_log="never printed", timeout=3)


def test_cannot_start(image_container):
    image_container(entrypoint=["/no/such/program"])


def test_failure_shows_the_log(image_container):
    image_container(command=["sh", "-c", "echo shown on failure; sleep 30"],
                    wait_for_log="shown on failure")
    assert False, "the test failed"
"""

INTERRUPTED = """\
import os
import signal

import pytest

pytestmark = pytest.mark.dockerfile()


def test_interrupted(image_container):
    image_container(command=["sh", "-c", "echo up; sleep 60"], wait_for_log="up")
    os.kill(os.getpid(), signal.SIGINT)
"""


@pytest.fixture
def daemon_env(docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch) -> DockerDaemon:
    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED")
    return docker_daemon


@pytest.fixture
def client(daemon_env: DockerDaemon) -> Iterator[docker.DockerClient]:
    sdk = docker.DockerClient(base_url=daemon_env.host, timeout=60)
    yield sdk
    sdk.close()


OURS = ("imagebuild-container/", "imagebuild/test_")


def leftovers(client: docker.DockerClient) -> list[str]:
    """Containers the fixture labelled and images it tagged or built in a pytester run."""
    found = [c.name for c in client.containers.list(all=True, filters={"label": LABEL})]
    for image in client.images.list():
        found += [
            t for t in image.tags if t.startswith(("imagebuild-container/", "imagebuild/test_"))
        ]
    return found


def service_project(pytester: pytest.Pytester, rootfs: Path, tests: str) -> None:
    build_project(pytester, rootfs, {"Dockerfile": SERVICE, "test_service.py": tests})


def test_waits_time_out_logs_and_clean_up(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, client: docker.DockerClient
) -> None:
    service_project(pytester, busybox_rootfs_tar, TESTS)
    assert leftovers(client) == []
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=3)
    result.stdout.fnmatch_lines(
        [
            # a container that is never ready: the error names the wait and shows the log
            "*ContainerError: container of *image.tar did not become ready within 3s "
            "(waiting for log line 'never printed')*",
            "*container log (last lines):",
            "*still starting",
            # the daemon refuses to start it: its own words
            "*ContainerError: container of *image.tar could not start: failed to create shim "
            'task: *exec: "/no/such/program": stat /no/such/program: no such file or dir*',
        ]
    )
    # a failed test's report carries its container's log
    result.stdout.re_match_lines([r"-+ imagebuild container image.tar as imagebuild-container/.*"])
    result.stdout.fnmatch_lines(["shown on failure"])
    assert "Traceback" not in result.stdout.str()
    assert "containers.py" not in result.stdout.str()  # no library frames
    assert leftovers(client) == []


def test_ctrl_c_removes_container_and_image(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, client: docker.DockerClient
) -> None:
    service_project(pytester, busybox_rootfs_tar, INTERRUPTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    assert leftovers(client) == []


STARTS_SAMPLE = """\
def test_start(image_container):
    image_container("images/app.tar", wait_for_log="never printed", timeout=3)
"""

BAD_ARGUMENTS = """\
def test_http_without_ports(image_container):
    image_container("images/app.tar", wait_for_http="/")


def test_a_directory(image_container):
    image_container("images")
"""


def sample_project(pytester: pytest.Pytester) -> None:
    """An image tarball written with tarfile: these runs fail before any load."""
    write_sample(pytester.path / "images" / "app.tar")
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_start=STARTS_SAMPLE)


def test_no_daemon_is_named_at_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_project(pytester)
    pytester.makepyfile(test_arguments=BAD_ARGUMENTS)  # refused before any daemon is asked
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert time.monotonic() - started < 30
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*UsageError: image_container: wait_for_http needs ports=[[]...[]]*",
            "*UsageError: image_container: docker loads tarballs, and */images is not a file",
            "*DockerError: no docker daemon answers at unix:///nonexistent/docker.sock: *",
            "*hint: start dockerd, or set DOCKER_HOST*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "ResourceWarning" not in result.stderr.str()


def test_missing_extra_names_the_install(pytester: pytest.Pytester) -> None:
    """An interpreter where ``import testcontainers`` fails as it does when the package is
    not installed (None in sys.modules makes the import raise ModuleNotFoundError)."""
    sample_project(pytester)
    pytester.makeconftest(
        "import sys\nfor name in ('testcontainers', 'docker'):\n    sys.modules[name] = None\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "docker_daemon.py" not in result.stdout.str()  # no library frames
    result.stdout.fnmatch_lines(
        [
            "*DockerError: starting containers and building with docker need testcontainers*",
            "*hint: pip install 'pytest-imagebuild[[]docker[]]'",
        ]
    )


UNNAMED = """\
def test_unnamed(image_container):
    container = image_container("unnamed.tar", command=["sh", "-c", "echo hi; sleep 30"],
                                wait_for_log="hi")
    assert container.get_wrapped_container().image.tags[0].startswith("imagebuild-container/")
"""


def test_an_archive_without_names_leaves_nothing(
    pytester: pytest.Pytester,
    busybox_rootfs_tar: Path,
    daemon_env: DockerDaemon,
    client: docker.DockerClient,
) -> None:
    """``docker save`` of an image id writes no RepoTags: once loaded, only the fixture's tag
    names the image, and the image goes with it."""
    tag = f"imagebuild-unnamed/{os.getpid()}:x"
    daemon_env.import_rootfs(busybox_rootfs_tar, tag, ['CMD ["sh"]'])
    image_id = client.images.get(tag).id
    daemon_env.save(image_id, pytester.path / "unnamed.tar")
    daemon_env.remove_image(tag)
    assert client.images.list(filters={"reference": tag}) == []
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_unnamed=UNNAMED)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(image_id)
    assert leftovers(client) == []


def test_example_project_service_answers(client: docker.DockerClient) -> None:
    """example_project/tests/test_service.py, run as its README says, on the suite's daemon."""
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_service.py"],
        cwd=root / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    assert leftovers(client) == []
