"""Find out once per process which sandbox mode this machine allows."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Literal

from pytest_imagebuild.builder import userns
from pytest_imagebuild.builder.sandbox import libc, seccomp
from pytest_imagebuild.builder.sandbox.diagnose import namespaces_refused
from pytest_imagebuild.errors import SandboxError

__all__ = ["SandboxMode", "forced", "probe"]

Kind = Literal["namespaces", "chroot", "none"]
_ENV = "IMAGEBUILD_SANDBOX"
_cached: SandboxMode | None = None


@dataclass(frozen=True)
class SandboxMode:
    """The mode RUN uses, the uid mapping builds run under, and why when degraded."""

    kind: Kind
    mapping: userns.IdMapping
    reason: str = ""
    hint: str | None = None
    seccomp: bytes = b""  # the BPF program RUN loads; empty when the kernel refuses one
    seccomp_reason: str = ""

    def features(self) -> list[str]:
        """The isolation a RUN gets in this mode, beyond the capability set."""
        found = ["no_new_privs"]
        found.append("seccomp" if self.seccomp else f"no seccomp ({self.seccomp_reason})")
        if self.kind == "namespaces":
            found += ["own hostname", "masked /proc", "read-only /sys"]
        return found

    def describe(self) -> str:
        """One line for the pytest header and the build log."""
        if self.kind == "none":
            return f"unavailable: {self.reason}"
        where = {
            "namespaces": "mount+pid namespaces",
            "chroot": f"chroot only, no /proc ({self.reason})" if self.reason else "chroot only",
        }[self.kind]
        return f"{self.mapping.describe()}, {where}; {', '.join(self.features())}"

    def check(self) -> None:
        """Raise ``SandboxError`` with the remedy when no mode works."""
        if self.kind == "none":
            raise SandboxError(f"cannot run RUN instructions: {self.reason}", hint=self.hint)


def _try_in_child(action: str, program: bytes = b"") -> str | None:
    """Fork; the child tries ``action``; None when it worked, else the error text."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
            if action == "chroot":
                os.chroot("/")
            elif action == "seccomp":
                libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
                libc.seccomp_filter(program)
            else:
                _namespaces_test()
        except BaseException as error:
            text = error.args[-1] if isinstance(error, OSError) and error.args else error
            os.write(write_fd, str(text).encode() or b"failed")
        finally:
            os._exit(0)
    os.close(write_fd)
    message = b""
    while part := os.read(read_fd, 4096):
        message += part
    os.close(read_fd)
    os.waitpid(pid, 0)
    return message.decode() or None


def _namespaces_test() -> None:
    libc.unshare(libc.CLONE_NEWNS | libc.CLONE_NEWPID | libc.CLONE_NEWIPC)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    libc.mount("/dev/null", "/dev/null", None, libc.MS_BIND)
    pid = os.fork()  # pid 1 of the new namespace mounts a fresh /proc over the private copy
    if pid == 0:
        code = 1
        try:
            libc.mount("proc", "/proc", "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise OSError("mounting a fresh /proc in a new pid namespace is refused")


def _seccomp(test: bool) -> tuple[bytes, str]:
    """The filter RUN loads, and why there is none; ``test`` loads it once in a child."""
    try:
        program = seccomp.build()
    except OSError as error:
        return b"", str(error.args[-1])
    problem = _try_in_child("seccomp", program) if test else None
    return (b"", problem) if problem else (program, "")


def _probe_as_root() -> tuple[Kind, str, str | None]:
    problem = _try_in_child("namespaces")
    if problem is None:
        return "namespaces", "", None
    reason, hint = namespaces_refused(problem)
    if _try_in_child("chroot") is None:
        return "chroot", reason, hint
    return "none", f"{reason}; chroot is refused too", hint


def _probe() -> SandboxMode:
    program, why = _seccomp(test=True)
    if os.geteuid() == 0:
        kind, reason, hint = _probe_as_root()
        return SandboxMode(kind, userns.current(), reason, hint, program, why)
    try:
        mapping, (kind, reason, hint) = userns.run_in_userns(
            lambda: (userns.current(), _probe_as_root())
        )
    except SandboxError as error:
        return SandboxMode("none", userns.IdMapping("none"), error.message, error.hint)
    return SandboxMode(kind, mapping, reason, hint, program, why)


def forced(kind: Kind) -> SandboxMode:
    """A mode chosen without probing (tests, or ``IMAGEBUILD_SANDBOX=chroot``)."""
    mapping = userns.current() if os.geteuid() == 0 else userns.plan()
    reason = "" if kind != "none" else f"{_ENV}=none"
    program, why = _seccomp(test=False)
    return SandboxMode(kind, mapping, "forced" if kind == "chroot" else reason, None, program, why)


def probe(*, refresh: bool = False) -> SandboxMode:
    """The best mode, probed once per process; ``IMAGEBUILD_SANDBOX`` may force one."""
    global _cached
    if _cached is None or refresh:
        choice = os.environ.get(_ENV, "auto")
        known = choice in ("namespaces", "chroot", "none")
        _cached = forced(choice) if known else _probe()  # type: ignore[arg-type]
    return _cached
