"""The supervisor process and the command's process (forked; they never return)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import time
from typing import TYPE_CHECKING, NoReturn

from pytest_imagebuild.builder.sandbox import libc
from pytest_imagebuild.builder.sandbox.mounts import assemble
from pytest_imagebuild.builder.sandbox.seccomp import CAPABILITIES

if TYPE_CHECKING:
    from pytest_imagebuild.builder.sandbox.run import Spec

DOCKER_CAPABILITIES = CAPABILITIES


def supervise(spec: Spec, out_w: int, status_w: int) -> NoReturn:
    """Run in the forked supervisor: report the outcome as JSON on ``status_w``, then exit."""
    outcome: dict[str, object]
    try:
        outcome = _supervise(spec, out_w)
    except BaseException as error:
        outcome = {"error": f"sandbox setup failed: {error}"}
    try:
        os.write(status_w, json.dumps(outcome).encode())
    finally:
        os._exit(0)


def _supervise(spec: Spec, out_w: int) -> dict[str, object]:
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if spec.mode == "namespaces":
        flags = libc.CLONE_NEWNS | libc.CLONE_NEWPID | libc.CLONE_NEWIPC | libc.CLONE_NEWUTS
        flags |= libc.CLONE_NEWNET if spec.network == "none" else 0
        libc.unshare(flags)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
        if spec.hostname:
            libc.sethostname(spec.hostname)
        if spec.network == "none":
            libc.loopback_up()
    else:
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
        if spec.binds:
            _bind_devices(spec.binds)
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(err_r)
        _command(spec, out_w, err_w)
    os.close(err_w)
    os.close(out_w)
    problem = b""
    while part := os.read(err_r, 65536):
        problem += part
    if problem:
        os.kill(pid, signal.SIGKILL)
        _reap_all(pid)
        return dict(json.loads(problem))
    timed_out = not _wait(pid, spec.timeout)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    _reap_all(pid)
    code = os.waitstatus_to_exitcode(status)
    return {"exit": 128 - code if code < 0 else code, "timeout": timed_out}


def _bind_devices(binds: list[tuple[str, str]]) -> None:
    """chroot mode in a user namespace: bind the host's device nodes over the stub files, in
    a mount namespace of the supervisor's own (gone when the step ends). Where even that is
    refused the stubs stay empty files, removed after the step."""
    try:
        libc.unshare(libc.CLONE_NEWNS)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError:
        return
    for source, target in binds:
        with contextlib.suppress(OSError):
            libc.mount(source, target, None, libc.MS_BIND)


def _wait(pid: int, timeout: float | None) -> bool:
    """Wait until ``pid`` ends; False when ``timeout`` passed first."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


def _reap_all(pid: int) -> None:
    """Kill and reap every process left (chroot mode: orphans came to us as subreaper)."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    me = os.getpid()
    while True:
        for child in _children(me):
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.01)
        except ChildProcessError:
            return


def _fail(err_w: int, message: str, hint: str | None = None) -> NoReturn:
    os.write(err_w, json.dumps({"error": message, "hint": hint}).encode())
    os._exit(126)


def _command(spec: Spec, out_w: int, err_w: int) -> NoReturn:
    """Become the command: set up the root, the user and the fds, then exec."""
    try:
        _setup_and_exec(spec, out_w, err_w)
    except BaseException as error:
        with contextlib.suppress(BaseException):
            _fail(err_w, f"sandbox setup failed: {error!r}")
    finally:
        os._exit(126)


def _setup_and_exec(spec: Spec, out_w: int, err_w: int) -> None:
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()
        null = os.open("/dev/null", os.O_RDONLY)
        if spec.plan is not None:
            assemble(spec.plan)
        else:
            os.chdir(spec.root)
            os.chroot(".")
            os.chdir("/")
        os.umask(0o022)
        os.makedirs(spec.workdir, 0o755, exist_ok=True)
        os.chdir(spec.workdir)
    except OSError as error:
        _fail(err_w, f"sandbox setup failed: {error}")
    try:
        libc.drop_capabilities(DOCKER_CAPABILITIES)
    except OSError as error:
        _fail(err_w, f"cannot limit capabilities: {error}")
    _become(spec, err_w)
    _restrict(spec, err_w)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.closerange(3, err_w)
    os.closerange(err_w + 1, 65536)
    try:
        os.execvpe(spec.argv[0], spec.argv, spec.env)  # noqa: S606 - exec form, as docker
    except OSError as error:
        reason = "not found" if error.errno == errno.ENOENT else error.strerror
        os.write(2, f"{spec.argv[0]}: {reason}\n".encode())
        os._exit(127 if error.errno == errno.ENOENT else 126)


def _become(spec: Spec, err_w: int) -> None:
    try:
        if not spec.single_map:  # a single-id map denies setgroups; uid 0 keeps its own group
            os.setgroups(spec.groups)
        os.setresgid(spec.gid, spec.gid, spec.gid)
        os.setresuid(spec.uid, spec.uid, spec.uid)
    except OSError as error:
        _fail(err_w, f"cannot switch to user {spec.uid}:{spec.gid}: {error}")


def _restrict(spec: Spec, err_w: int) -> None:
    """no_new_privs, then the seccomp filter: the last steps before exec."""
    try:
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        if spec.seccomp:
            libc.seccomp_filter(spec.seccomp)
    except OSError as error:
        _fail(err_w, f"cannot restrict the command's syscalls: {error}")
