"""Call a function in a child process with its own mount namespace, as uid 0.

Rootless, ``userns.run_in_userns`` already forks into new user and mount namespaces. As real
root it would call the function in the pytest process itself, where an overlay mount would
land in the host's mount table: here root forks too and unshares only the mount namespace, so
every mount the function makes dies with the child. Where ``unshare`` is refused (docker's
default seccomp profile) the child runs without one and the function is told it cannot mount.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import TypeVar, cast

from pytest_imagebuild.builder import userns
from pytest_imagebuild.builder.sandbox import libc
from pytest_imagebuild.errors import SandboxError

__all__ = ["in_mount_namespace"]

T = TypeVar("T")


def _private_root() -> bool:
    try:
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError:
        return False
    return True


def _in_userns(fn: Callable[..., T], args: tuple[object, ...]) -> T:
    return fn(_private_root(), *args)


def in_mount_namespace(fn: Callable[..., T], *args: object) -> T:
    """``fn(can_mount, *args)`` in a forked child; its result or exception must pickle."""
    if os.geteuid() != 0:
        return cast(T, userns.run_in_userns(_in_userns, fn, args))
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read_fd)
        _child(write_fd, fn, args)
    os.close(write_fd)
    chunks = []
    try:
        while chunk := os.read(read_fd, 1 << 20):
            chunks.append(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        raise SandboxError(f"the command runner's child died (status {status})")
    tag, value = pickle.loads(b"".join(chunks))  # noqa: S301 - our own child wrote it
    if tag == "err":
        raise cast(BaseException, value)
    return cast(T, value)


def _child(write_fd: int, fn: Callable[..., object], args: tuple[object, ...]) -> None:
    code = 0
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            libc.unshare(libc.CLONE_NEWNS)
            can_mount = _private_root()
        except OSError:
            can_mount = False
        payload: tuple[str, object] = ("ok", fn(can_mount, *args))
    except BaseException as error:
        error.add_note("".join(traceback.format_exception(error)))
        payload = ("err", error)
    try:
        data = pickle.dumps(payload)
    except Exception as error:
        data = pickle.dumps(("err", SandboxError(f"result does not pickle: {error}")))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    except OSError:
        code = 3
    finally:
        os._exit(code)
