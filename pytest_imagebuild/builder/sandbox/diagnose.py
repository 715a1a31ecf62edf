"""Explain why the kernel refuses namespaces, and what to change."""

from __future__ import annotations

import errno
import os
from pathlib import Path

_SECCOMP_HINT = (
    "a seccomp filter refuses unshare/mount (docker's default profile does): run the job "
    "container with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, "
    "or run the build as root in the container for the chroot-only mode"
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def seccomp_filtered() -> bool:
    status = _read("/proc/self/status") or ""
    return any(line.split() == ["Seccomp:", "2"] for line in status.splitlines())


def in_container() -> bool:
    return os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")


def userns_refused(number: int) -> tuple[str, str]:
    """``(reason, hint)`` for a failed ``unshare(CLONE_NEWUSER)`` with errno ``number``."""
    error = os.strerror(number) if number else "unknown error"
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return (
            f"{error}; kernel.unprivileged_userns_clone is 0",
            "run `sysctl -w kernel.unprivileged_userns_clone=1` (as root, on the host)",
        )
    if number == errno.ENOSPC or _read("/proc/sys/user/max_user_namespaces") == "0":
        return (
            f"{error}; user.max_user_namespaces is 0 or exhausted",
            "run `sysctl -w user.max_user_namespaces=15000` (as root, on the host)",
        )
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            f"{error}; AppArmor restricts unprivileged user namespaces",
            "run `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or add an AppArmor "
            "profile that allows `userns,` for this python",
        )
    if seccomp_filtered():
        return f"{error}; this process runs under a seccomp filter", _SECCOMP_HINT
    if in_container():
        return (
            f"{error}; running inside a container",
            "the container runtime refuses user namespaces: " + _SECCOMP_HINT,
        )
    return error, "check the kernel's user namespace support (CONFIG_USER_NS) and sysctls"


def namespaces_refused(detail: str) -> tuple[str, str]:
    """``(reason, hint)`` for root that cannot unshare mount/pid namespaces or mount."""
    if seccomp_filtered() or in_container():
        return f"{detail} (inside a container or under seccomp)", _SECCOMP_HINT
    return (
        detail,
        "the kernel refuses mount/pid namespaces: check CONFIG_PID_NS and CONFIG_NAMESPACES",
    )
