"""Run one command in a stage root: ``sandbox.run``.

Process model: the caller prepares mount points in the root (``Stubs``), then forks a
supervisor. In the namespaces mode the supervisor unshares mount and pid namespaces and forks
the command's process, which becomes pid 1 there, assembles the root, pivots into it, drops to
the user and execs; when it ends, the kernel kills everything left in its pid namespace. In the
chroot mode the supervisor is a child subreaper and kills every leftover descendant itself. The
supervisor enforces the timeout and reports the outcome through a pipe; the caller streams the
combined stdout and stderr, then removes the mount points.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from pytest_imagebuild.builder import userns
from pytest_imagebuild.builder.sandbox.mounts import DEVICES, Mount, RootPlan
from pytest_imagebuild.builder.sandbox.paths import Stubs
from pytest_imagebuild.builder.sandbox.probe import SandboxMode, probe
from pytest_imagebuild.builder.sandbox.supervise import supervise
from pytest_imagebuild.errors import SandboxError

__all__ = [
    "DEFAULT_PATH",
    "Output",
    "SandboxTimeout",
    "Spec",
    "run",
    "single_id_refusal",
    "stage_hostname",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Output = Callable[[bytes], object] | BinaryIO | None


class SandboxTimeout(SandboxError):
    """The command ran longer than its timeout and was killed."""


@dataclass
class Spec:
    """Everything the supervisor and the command's process need, resolved by the caller."""

    mode: Literal["namespaces", "chroot"]
    root: str
    argv: list[str]
    env: dict[str, str]
    workdir: str
    uid: int
    gid: int
    groups: list[int]
    hostname: str | None
    network: Literal["default", "none"]
    timeout: float | None
    plan: RootPlan | None = None
    single_map: bool = False
    seccomp: bytes = b""
    # chroot mode in a user namespace: (host device, stub file in the root) to bind-mount
    binds: list[tuple[str, str]] = field(default_factory=list)


def single_id_refusal(uid: int, gid: int, mapping: userns.IdMapping) -> SandboxError:
    """The error for a command as ``uid:gid`` in a single-id user namespace: only 0 exists."""
    outside = mapping.uids[0].outside if mapping.uids else os.getuid()
    name = userns.outside_user(mapping)
    why = (
        f"newuidmap did not map the /etc/subuid range of user {name}"
        if mapping.ranges_refused
        else f"no /etc/subuid range for user {name}"
    )
    return SandboxError(
        f"cannot run as user {uid}:{gid}: the build runs in a single-id user namespace "
        f"(uid 0 -> {outside}, {why}), where only root exists",
        hint=f"{userns.subuid_remedy(mapping)}, or run this step as root (USER 0), "
        "or run the build as root",
    )


def _parse_user(user: str) -> tuple[int, int]:
    uid, _, gid = user.partition(":")
    try:
        return int(uid), int(gid or "0")
    except ValueError:
        raise SandboxError(
            f"user {user!r} is not numeric uid:gid", hint="resolve names from /etc/passwd first"
        ) from None


def stage_hostname(root: str) -> str:
    """The hostname a RUN sees unless one is given: 12 hex digits derived from the stage
    root's path, so every RUN of one stage sees the same name (docker shows a container id)."""
    return hashlib.sha256(os.fsencode(root)).hexdigest()[:12]


def _host_file(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError:
        return b""


def _prepare(spec: Spec, mounts: Sequence[Mount], stubs: Stubs) -> None:
    resolv, hosts = _host_file("/etc/resolv.conf"), _host_file("/etc/hosts")
    if not hosts:
        hosts = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    if spec.mode == "chroot":
        if mounts:
            raise SandboxError(
                "RUN --mount needs mount namespaces, which this machine refuses",
                hint="run where user or mount namespaces are allowed (see the sandbox line of "
                "the pytest header)",
            )
        stubs.replace("/etc/resolv.conf", resolv)
        stubs.replace("/etc/hosts", hosts)
        stubs.replace("/etc/hostname", f"{socket.gethostname()}\n".encode())
        stubs.directory("/dev")
        in_userns = userns.current().kind != "none"
        for name in DEVICES:
            if not stubs.device(f"/dev/{name}", f"/dev/{name}") and in_userns:
                # no mknod in a user namespace, but a mount namespace of our own: bind
                spec.binds.append((f"/dev/{name}", str(stubs.file(f"/dev/{name}"))))
        return
    plan = RootPlan(
        root=spec.root,
        proc=str(stubs.directory("/proc")),
        dev=str(stubs.directory("/dev")),
        sys=str(stubs.directory("/sys")),
    )
    plan.files[str(stubs.file("/etc/resolv.conf"))] = resolv
    plan.files[str(stubs.file("/etc/hosts"))] = hosts
    plan.files[str(stubs.file("/etc/hostname"))] = f"{spec.hostname}\n".encode()
    for mount in mounts:
        if not mount.target.startswith("/"):
            raise SandboxError(f"mount target {mount.target!r} is not absolute")
        source_is_dir = mount.type == "tmpfs" or (
            mount.source is not None and mount.source.is_dir()
        )
        if mount.type == "bind" and (mount.source is None or not mount.source.exists()):
            raise SandboxError(f"mount source {mount.source} does not exist")
        host = stubs.directory(mount.target) if source_is_dir else stubs.file(mount.target)
        plan.mounts.append((str(host), mount))
    spec.plan = plan


def _emit(output: Output, chunk: bytes) -> None:
    if output is None:
        return
    if callable(output):
        output(chunk)
    else:
        output.write(chunk)


def run(
    rootfs: Path | str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    workdir: str = "/",
    user: str = "0:0",
    groups: Sequence[int] = (),
    mounts: Sequence[Mount] = (),
    hostname: str | None = None,
    network: Literal["default", "none"] = "default",
    output: Output = None,
    timeout: float | None = None,
    mode: SandboxMode | None = None,
) -> int:
    """Run ``argv`` in ``rootfs`` as ``user`` ("uid:gid"); return its exit code.

    Signals give 128 + the signal number, as a shell reports them. Raises ``SandboxTimeout``
    after killing everything on timeout, and ``SandboxError`` when the sandbox cannot be set up.
    """
    mode = mode or probe()
    mode.check()
    if not argv:
        raise SandboxError("nothing to run: empty command")
    root = os.path.realpath(rootfs)
    if not os.path.isdir(root):
        raise SandboxError(f"stage root {rootfs} is not a directory")
    if os.geteuid() != 0:
        raise SandboxError(
            "sandbox.run needs uid 0 (real, or in the build's user namespace)",
            hint="call it inside userns.run_in_userns",
        )
    uid, gid = _parse_user(user)
    mapping = userns.current()
    if mapping.kind == "single" and (uid, gid) != (0, 0):
        raise single_id_refusal(uid, gid, mapping)
    full_env = dict(env or {})
    full_env.setdefault("PATH", DEFAULT_PATH)
    spec = Spec(
        mode="chroot" if mode.kind == "chroot" else "namespaces",
        root=root,
        argv=list(argv),
        env=full_env,
        workdir=workdir or "/",
        uid=uid,
        gid=gid,
        groups=list(groups),
        hostname=hostname or stage_hostname(root),
        network=network,
        timeout=timeout,
        single_map=mapping.kind == "single",
        seccomp=mode.seccomp,
    )
    stubs = Stubs(Path(root))
    try:
        _prepare(spec, mounts, stubs)
        return _execute(spec, output)
    finally:
        stubs.restore()


def _close_inherited(*keep: int) -> None:
    """Close what the fork copied from other threads (stages unpack and write files in
    parallel): a write descriptor held here would make exec of that file fail with ETXTBSY
    in the stage that owns it."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


def _execute(spec: Spec, output: Output) -> int:
    out_r, out_w = os.pipe()
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(status_r)
        _close_inherited(out_w, status_w)
        supervise(spec, out_w, status_w)  # never returns
    os.close(out_w)
    os.close(status_w)
    try:
        while chunk := os.read(out_r, 65536):
            _emit(output, chunk)
        report = b""
        while part := os.read(status_r, 65536):
            report += part
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # its pdeathsig children follow
        raise
    finally:
        os.close(out_r)
        os.close(status_r)
        os.waitpid(pid, 0)
    outcome = json.loads(report or b'{"error": "the sandbox supervisor died"}')
    if "error" in outcome:
        raise SandboxError(outcome["error"], hint=outcome.get("hint"))
    if outcome.get("timeout"):
        raise SandboxTimeout(
            f"command timed out after {spec.timeout}s and was killed: {spec.argv}",
            hint="raise the timeout or make the command finish",
        )
    return int(outcome["exit"])
