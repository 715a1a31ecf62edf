"""RUN isolation as docker's default container, as root: seccomp, no_new_privs, masked /proc,
read-only /sys, own hostname, docker's /dev, no process left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from pathlib import Path

import pytest

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.builder.sandbox import SandboxMode
from pytest_imagebuild.builder.sandbox.run import stage_hostname
from tests.builder import syscall_helper
from tests.builder.busybox_root import make_busybox_root
from tests.builder.container_support import run_python, skeleton_image
from tests.builder.rootless import FULL_USER, chown_tree, ensure_user, remove_as, run_as, user_dir
from tests.support.docker import DockerDaemon

DENIED = ("keyctl", "add_key", "request_key", "kexec_load", "reboot", "unshare", "mount", "bpf")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    made = make_busybox_root(tmp_path / "root")
    syscall_helper.install(made)
    return made


@pytest.fixture(params=["namespaces", "chroot"])
def mode(request: pytest.FixtureRequest) -> SandboxMode:
    chosen = sandbox.probe() if request.param == "namespaces" else sandbox.forced("chroot")
    assert chosen.kind == request.param, chosen.describe()
    assert chosen.seccomp, chosen.describe()
    return chosen


def sh(root: Path, script: str, mode: SandboxMode) -> tuple[int, str]:
    out = bytearray()
    code = sandbox.run(root, ["/bin/sh", "-c", script], output=out.extend, mode=mode)
    return code, out.decode()


def test_denied_syscalls_get_eperm(root: Path, mode: SandboxMode) -> None:
    code, out = sh(root, f"syscall {' '.join(DENIED)} clone3 getpid", mode)
    assert code == 0, out
    results = dict(line.split() for line in out.splitlines())
    assert {name: results[name] for name in DENIED} == dict.fromkeys(DENIED, "1"), out
    assert results["clone3"] == "38"  # ENOSYS: libc falls back to clone
    assert results["getpid"] == "0"


def test_without_the_filter_keyctl_reaches_the_kernel(root: Path) -> None:
    bare = dataclasses.replace(sandbox.probe(), seccomp=b"")
    code, out = sh(root, "syscall keyctl", bare)
    assert (code, out) != (0, "keyctl 1\n"), "keyctl is denied even without the filter"


def test_proc_sys_status_hostname_and_dev(root: Path) -> None:
    mode = sandbox.probe()
    script = (
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; wc -c < /proc/keys; "
        "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; ls /sys/firmware | wc -l; "
        "echo x > /proc/sys/kernel/domainname && echo wrote-proc; "
        "echo x > /sys/kernel/uevent_helper && echo wrote-sys; "
        "hostname; cat /etc/hostname; ls /dev | tr '\\n' ' '"
    )
    _, out = sh(root, script, mode)
    lines = out.splitlines()
    assert lines[:6] == ["NoNewPrivs:\t1", "Seccomp:\t2", "0", "0", "0", "0"], out
    assert "wrote" not in out
    name = stage_hostname(os.path.realpath(root))
    assert name != socket.gethostname()
    assert lines[-3:-1] == [name, name], out
    assert lines[-1].split() == sorted(
        [
            "fd",
            "full",
            "mqueue",
            "null",
            "ptmx",
            "pts",
            "random",
            "shm",
            "stderr",
            "stdin",
            "stdout",
            "tty",
            "urandom",
            "zero",
        ]
    )
    assert not (root / "etc" / "hostname").exists()


def _alive(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in Path(f"/proc/{entry}/cmdline").read_text():
                found.append(entry)
        except OSError:
            continue
    return found


def test_daemons_die_with_the_step(root: Path, mode: SandboxMode) -> None:
    marker = "1000.4321"
    script = (
        f"(setsid sleep {marker} &); nohup sleep {marker} >/dev/null 2>&1 & "
        f"( (sleep {marker} </dev/null >/dev/null 2>&1 &) & ); echo started"
    )
    began = time.monotonic()
    assert sh(root, script, mode) == (0, "started\n")
    assert time.monotonic() - began < 20
    assert _alive(marker) == []


@pytest.mark.rootless
def test_rootless_step_gets_the_same_isolation(tmp_path: Path) -> None:
    user = ensure_user(FULL_USER, subids=True)
    work = user_dir(user)
    try:
        syscall_helper.install(make_busybox_root(work / "build" / "root"))
        chown_tree(work, user)
        result = run_as(
            user,
            """
            import json
            from pytest_imagebuild.builder import sandbox, userns
            def step():
                out = bytearray()
                sandbox.run("build/root", ["/bin/sh", "-c",
                    "syscall keyctl mount unshare; grep ^NoNewPrivs /proc/self/status; "
                    "wc -c < /proc/keys; (setsid sleep 1000.4322 &); echo end"],
                    output=out.extend)
                return out.decode()
            print(json.dumps(userns.run_in_userns(step)))
            """,
            work,
        )
        assert result == "keyctl 1\nmount 1\nunshare 1\nNoNewPrivs:\t1\n0\nend\n"
        assert _alive("1000.4322") == []
    finally:
        remove_as(user, work)


CONTAINER_SNIPPET = """
import json, os, shutil
from pathlib import Path
from pytest_imagebuild.builder import sandbox
from tests.builder.busybox_root import make_busybox_root
root = make_busybox_root(Path("/tmp/root"))
shutil.copy2("/helper/syscall", root / "bin" / "syscall")
out = bytearray()
sandbox.run(root, ["/bin/sh", "-c", "syscall keyctl kexec_load; (setsid sleep 1000.4323 &)"],
            output=out.extend)
left = [p for p in os.listdir("/proc")
        if p.isdigit() and "1000.4323" in Path(f"/proc/{p}/cmdline").read_text()]
print(json.dumps([sandbox.probe().kind, bool(sandbox.probe().seccomp), out.decode(), left]))
"""


@pytest.mark.docker
def test_chroot_step_in_a_container_gets_the_filter(
    docker_daemon: DockerDaemon, tmp_path: Path
) -> None:
    image = skeleton_image(docker_daemon, tmp_path)
    (tmp_path / "snippet.py").write_text(CONTAINER_SNIPPET)
    tmp_path.chmod(0o755)
    helper = syscall_helper.helper().parent
    done = run_python(
        docker_daemon, image, ["/job/snippet.py"],
        volumes={tmp_path: "/job:ro", helper: "/helper:ro"}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout.decode().splitlines()[-1])
    assert result == ["chroot", True, "keyctl 1\nkexec_load 1\n", []]
