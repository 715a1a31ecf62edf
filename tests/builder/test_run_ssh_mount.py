"""``RUN --mount=type=ssh`` with ``--ssh``: a real ssh-agent started by the test (or by the
build, from a key file), asked for its keys by the real ``ssh-add`` inside the busybox image
(the host's binary and its libraries, bound in for the step)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.builder.test_cli import imagebuild

_LIST_KEYS = (
    "--mount=type=bind,source=tools,target=/tools "
    "/tools/ld.so --library-path /tools /tools/ssh-add -l"
)


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is missing: install openssh-client (scripts/setup)", pytrace=False)
    return found


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base(busybox_rootfs, tmp_path_factory.mktemp("sshbase"))[1]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fresh ed25519 key without passphrase and its SHA256 fingerprint."""
    directory = tmp_path_factory.mktemp("sshkey")
    path = directory / "id_ed25519"
    subprocess.run(
        [_need("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "imagebuild-test",
         "-f", str(path)], check=True,
    )  # fmt: skip
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return path, listed.split()[1]


@pytest.fixture
def agent(key: tuple[Path, str], tmp_path: Path) -> Iterator[Path]:
    """A running ssh-agent holding ``key``: its socket."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen([_need("ssh-agent"), "-D", "-a", str(sock)])
    env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
    try:
        deadline = time.monotonic() + 30
        # ssh-add -l: 1 (no keys yet) once the agent answers, 2 while it cannot be reached
        while subprocess.run([_need("ssh-add"), "-l"], env=env, capture_output=True,
                             check=False).returncode == 2:  # fmt: skip
            assert proc.poll() is None, "ssh-agent exited"
            assert time.monotonic() < deadline, "ssh-agent did not answer in 30 s"
            time.sleep(0.05)
        subprocess.run([_need("ssh-add"), "-q", str(key[0])], env=env, check=True)
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def _context(tmp_path: Path, base: Path, dockerfile: str) -> Path:
    """The context: the Dockerfile and ``tools/`` (the host's ssh-add, its libraries and
    its dynamic loader as ``ld.so``)."""
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM oci:{base}\n" + dockerfile})
    tools = ctx / "tools"
    tools.mkdir()
    ssh_add = _need("ssh-add")
    shutil.copy(ssh_add, tools / "ssh-add")
    listed = subprocess.run(["ldd", ssh_add], capture_output=True, text=True, check=True).stdout
    for line in listed.splitlines():
        found = re.search(r"(/\S+) \(0x", line)
        if found is None:
            continue
        library = Path(found[1])
        name = "ld.so" if "ld-linux" in library.name else library.name
        shutil.copy(library, tools / name)
    return ctx


def _agents_left(marker: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if "ssh-agent" in line and str(marker) in line]


@pytest.mark.parametrize("mode", ["namespaces", "chroot"])
def test_default_agent_reaches_the_step_and_nothing_stays(
    mode: str, base: Path, key: tuple[Path, str], agent: Path, tmp_path: Path
) -> None:
    ctx = _context(
        tmp_path, base,
        f"RUN --mount=type=ssh {_LIST_KEYS} > /keys && echo $SSH_AUTH_SOCK > /sock\n"
        f"RUN {_LIST_KEYS} > /without 2>&1 || echo refused > /without\n",
    )  # fmt: skip
    out = tmp_path / "out.tar"
    env = {"SSH_AUTH_SOCK": str(agent), "IMAGEBUILD_SANDBOX": mode}
    proc = imagebuild("-c", ctx, "--no-push", "--tar-path", out, "--ssh", "default", env=env)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as image:
        assert key[1] in image.file("/keys").read_text()
        assert image.file("/sock").read_text() == "/run/buildkit/ssh_agent.0\n"
        assert key[1] not in image.file("/without").read_text()  # only the mounting step
        assert "/run/buildkit" not in image
        assert not [f for f in image.walk() if f.path.endswith(".sock")]


def test_key_file_loaded_by_the_build(base: Path, key: tuple[Path, str], tmp_path: Path) -> None:
    """``--ssh ID=KEY``: the build runs its own agent, the mount's target, mode and owner
    apply, and the agent is gone when the build ends."""
    ctx = _context(
        tmp_path, base,
        "RUN --mount=type=ssh,id=deploy,target=/tmp/agent,mode=0640,uid=1000 "
        f"{_LIST_KEYS} > /keys && stat -c '%a %u' /tmp/agent > /meta\n",
    )  # fmt: skip
    out = tmp_path / "out.tar"
    build_root = tmp_path / "build"
    proc = imagebuild(
        "-c", ctx, "--no-push", "--tar-path", out, "--ssh", f"deploy={key[0]}",
        "--build-root", build_root, env={"SSH_AUTH_SOCK": ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as image:
        assert key[1] in image.file("/keys").read_text()
        assert image.file("/meta").read_text() == "640 1000\n"
        assert "/tmp/agent" not in image
    assert _agents_left(build_root) == []
    assert list(build_root.iterdir()) == []


def test_required_agent_missing_is_an_error(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, base, f"RUN --mount=type=ssh,id=deploy,required=true {_LIST_KEYS}\n")
    proc = imagebuild("-c", ctx, "--no-push", "--log-format", "plain")
    assert proc.returncode == 1
    assert "ssh agent 'deploy' is required but was not provided" in proc.stderr
    assert f"{ctx}/Dockerfile:2" in proc.stderr


def test_optional_agent_missing_skips_the_mount(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, base, 'RUN --mount=type=ssh echo "[$SSH_AUTH_SOCK]" > /sock\n')
    out = tmp_path / "out.tar"
    proc = imagebuild("-c", ctx, "--no-push", "--tar-path", out)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as image:
        assert image.file("/sock").read_text() == "[]\n"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--ssh=default", "--ssh default: SSH_AUTH_SOCK is not set"),
        ("--ssh=k=/nonexistent/key", "is neither an agent socket nor a key file"),
        ("--ssh==x", "invalid --ssh"),
    ],
)
def test_bad_ssh_flags(flag: str, message: str, tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n"})
    proc = imagebuild("-c", ctx, "--no-push", flag, env={"SSH_AUTH_SOCK": ""})
    assert proc.returncode == 2
    assert message in proc.stderr
