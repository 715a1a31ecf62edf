"""sandbox.run as root: the namespaces mode and the forced chroot-only mode."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.builder.sandbox import Mount, SandboxMode
from pytest_imagebuild.errors import SandboxError
from tests.builder.busybox_root import make_busybox_root, snapshot

MODES = ["namespaces", "chroot"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_busybox_root(tmp_path / "root")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> SandboxMode:
    if request.param == "namespaces":
        probed = sandbox.probe()
        assert probed.kind == "namespaces", f"namespaces refused as root: {probed.describe()}"
        return probed
    return sandbox.forced("chroot")


def sh(
    root: Path, script: str, mode: SandboxMode | None = None, **kwargs: object
) -> tuple[int, str]:
    out = bytearray()
    code = sandbox.run(root, ["/bin/sh", "-c", script], output=out.extend, mode=mode, **kwargs)  # type: ignore[arg-type]
    return code, out.decode()


def leftovers(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in Path(f"/proc/{entry}/cmdline").read_text():
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_probe_as_root_picks_namespaces_and_caches() -> None:
    mode = sandbox.probe()
    assert mode is sandbox.probe()
    assert mode.kind == "namespaces"
    assert mode.describe() == (
        "root, no user namespace, mount+pid namespaces; no_new_privs, seccomp, own hostname, "
        "masked /proc, read-only /sys"
    )


def test_exit_code_is_propagated(root: Path, mode: SandboxMode) -> None:
    assert sh(root, "exit 42", mode) == (42, "")
    # a signal gives 128 + its number; pid 1 of a pid namespace cannot kill itself, so nest
    assert sh(root, "sh -c 'kill -9 $$'; exit $?", mode)[0] == 137


def test_killed_by_a_signal_gives_128_plus_signal(root: Path) -> None:
    assert sh(root, "kill -9 $$", sandbox.forced("chroot"))[0] == 137


def test_env_workdir_and_user_are_applied(root: Path, mode: SandboxMode) -> None:
    code, out = sh(
        root,
        'echo "$GREETING|$PATH|$(pwd)|$(id -u):$(id -g):$(id -G)"; touch /tmp/made',
        mode,
        env={"GREETING": "hi there"},
        workdir="/srv/app",
        user="1000:1000",
        groups=[1000, 2000],
    )
    assert code == 0, out
    assert out == f"hi there|{sandbox.DEFAULT_PATH}|/srv/app|1000:1000:1000 2000\n"
    made = (root / "tmp/made").stat()
    assert (made.st_uid, made.st_gid) == (1000, 1000)


def test_output_is_streamed_to_a_file(root: Path, mode: SandboxMode, tmp_path: Path) -> None:
    log = tmp_path / "log"
    with log.open("ab") as handle:
        code = sandbox.run(root, ["sh", "-c", "echo out; echo err >&2"], output=handle, mode=mode)
    assert code == 0
    assert log.read_text() == "out\nerr\n"


def test_missing_command_gives_127(root: Path, mode: SandboxMode) -> None:
    out = bytearray()
    assert sandbox.run(root, ["no-such-tool"], output=out.extend, mode=mode) == 127
    assert b"no-such-tool: not found" in out


def test_proc_dev_and_pid_1_in_namespaces(root: Path) -> None:
    code, out = sh(root, "echo $$; grep ^Pid: /proc/self/status; ls /dev; echo x > /dev/null")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "1"
    assert lines[1].startswith("Pid:")
    assert {"null", "zero", "urandom", "tty", "shm", "fd"} <= set(lines[2:])


def test_root_gets_dockers_default_capabilities(root: Path) -> None:
    code, out = sh(root, "grep -E '^Cap(Eff|Bnd)' /proc/self/status; mount -t tmpfs x /tmp")
    assert code != 0
    assert out.splitlines()[:2] == ["CapEff:\t00000000a80425fb", "CapBnd:\t00000000a80425fb"]


def test_chroot_mode_has_devices_but_no_proc(root: Path) -> None:
    code, out = sh(
        root,
        "echo x > /dev/null && head -c 4 /dev/zero | wc -c; ls /proc/self",
        sandbox.forced("chroot"),
    )
    assert code != 0
    assert out.startswith("4\n")


def test_resolv_conf_and_hosts_inside_leave_no_trace(root: Path, mode: SandboxMode) -> None:
    before = snapshot(root)
    code, out = sh(
        root, "cat /etc/resolv.conf; grep -c localhost /etc/hosts; echo x >> /etc/hosts", mode
    )
    assert code == 0, out
    assert Path("/etc/resolv.conf").read_text() in out
    assert snapshot(root) == before
    assert b"x\n" not in Path("/etc/hosts").read_bytes()[-2:]


def test_existing_resolv_conf_symlink_is_kept(root: Path, mode: SandboxMode) -> None:
    (root / "etc/resolv.conf").symlink_to("/run/systemd/resolve/stub-resolv.conf")
    (root / "etc/hosts").write_text("10.1.1.1 mine\n")
    before = snapshot(root)
    code, out = sh(root, "cat /etc/resolv.conf", mode)
    assert code == 0, out
    assert "nameserver" in out or Path("/etc/resolv.conf").read_text() == out
    assert snapshot(root) == before
    assert (root / "etc/hosts").read_text() == "10.1.1.1 mine\n"
    assert not (root / "run").exists()


def test_background_processes_are_killed(root: Path, mode: SandboxMode) -> None:
    marker = f"7{os.getpid() % 1000}.25"
    code, out = sh(root, f"sleep {marker} & (setsid sleep {marker} &) ; echo started", mode)
    assert (code, out) == (0, "started\n")
    time.sleep(0.1)
    assert leftovers(marker) == []


def test_timeout_kills_everything(root: Path, mode: SandboxMode) -> None:
    marker = f"8{os.getpid() % 1000}.5"
    start = time.monotonic()
    with pytest.raises(sandbox.SandboxTimeout, match=r"timed out after 0\.5s"):
        sh(root, f"sleep {marker} & sleep {marker}", mode, timeout=0.5)
    assert time.monotonic() - start < 5
    assert leftovers(marker) == []


def test_mounts_bind_and_tmpfs(root: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in").write_text("from host")
    cache = tmp_path / "cache"
    cache.mkdir()
    before = snapshot(root)
    mounts = [
        Mount.bind(shared, "/mnt/ro"),
        Mount.bind(cache, "/var/cache/app", readonly=False),
        Mount.bind(shared / "in", "/run/secrets/token"),
        Mount.tmpfs("/scratch"),
    ]
    code, out = sh(
        root,
        (
            "cat /mnt/ro/in; echo; cat /run/secrets/token; echo;"
            " touch /mnt/ro/x 2>/dev/null || echo ro-refused;"
            " echo cached > /var/cache/app/c; echo t > /scratch/t && echo tmpfs-ok"
        ),
        mounts=mounts,
    )
    assert code == 0, out
    assert out == "from host\nfrom host\nro-refused\ntmpfs-ok\n"
    assert (cache / "c").read_text() == "cached\n"
    assert snapshot(root) == before


def test_hostname_and_no_network(root: Path) -> None:
    code, out = sh(
        root,
        "hostname; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
        hostname="builder",
        network="none",
    )
    assert code == 0, out
    assert out.split() == ["builder", "lo"]


def test_signals_are_default_in_the_command(root: Path, mode: SandboxMode) -> None:
    code, out = sh(root, "yes | head -n 2", mode)
    assert (code, out) == (0, "y\ny\n")


def test_setup_errors_raise_sandbox_error(root: Path, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="not a directory"):
        sandbox.run(tmp_path / "missing", ["true"])
    with pytest.raises(SandboxError, match="not numeric"):
        sandbox.run(root, ["true"], user="nobody")
    (root / "proc").write_text("in the way")
    with pytest.raises(SandboxError, match="not a directory"):
        sandbox.run(root, ["true"])
    with pytest.raises(SandboxError, match="needs mount namespaces"):
        sandbox.run(root, ["true"], mounts=[Mount.tmpfs("/x")], mode=sandbox.forced("chroot"))


def test_supervisor_keeps_no_descriptor_of_the_parent(root: Path, tmp_path: Path) -> None:
    """Parallel stages write files while another stage's RUN forks: a write descriptor the
    fork copied would keep that file busy, and exec of it would fail (ETXTBSY)."""
    tool = tmp_path / "tool"
    fd = os.open(tool, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755)
    os.write(fd, b"#!/bin/sh\nexit 0\n")
    result: list[int] = []
    running = threading.Thread(target=lambda: result.append(sh(root, "sleep 2")[0]))
    running.start()
    time.sleep(0.5)  # the RUN's supervisor has forked while fd was open
    os.close(fd)
    try:
        done = subprocess.run([str(tool)], check=False)
    finally:
        running.join()
    assert done.returncode == 0
    assert result == [0]
