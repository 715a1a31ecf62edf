"""Mounts for a RUN: what the caller asks for, and the root the namespaces mode assembles."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pytest_imagebuild.builder.sandbox import libc

__all__ = ["Mount", "RootPlan"]

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}


# what docker hides from a container: files get /dev/null, directories an empty read-only tmpfs
MASKED = (
    "proc/acpi",
    "proc/asound",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/sched_debug",
    "proc/scsi",
    "proc/timer_list",
    "proc/timer_stats",
    "sys/devices/virtual/powercap",
    "sys/firmware",
)
READ_ONLY = ("proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger")


@dataclass(frozen=True)
class Mount:
    """A mount for one RUN (``RUN --mount``): a host path bound in, or a fresh tmpfs."""

    target: str
    type: Literal["bind", "tmpfs"] = "bind"
    source: Path | None = None
    readonly: bool = True
    mode: int = 0o755

    @classmethod
    def bind(cls, source: Path | str, target: str, *, readonly: bool = True) -> Mount:
        return cls(target, "bind", Path(source), readonly)

    @classmethod
    def tmpfs(cls, target: str, *, mode: int = 0o755) -> Mount:
        return cls(target, "tmpfs", None, False, mode)


@dataclass
class RootPlan:
    """Host paths (resolved inside the root) the namespaces mode mounts on."""

    root: str
    proc: str
    dev: str
    sys: str
    files: dict[str, bytes] = field(default_factory=dict)  # host target -> content (resolv.conf)
    mounts: list[tuple[str, Mount]] = field(default_factory=list)


def _readonly(target: str, flags: int) -> None:
    extra = libc.locked_flags(target)
    libc.mount(None, target, None, libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY | flags | extra)


def _dev(dev: str, files: dict[str, bytes]) -> None:
    libc.mount("tmpfs", dev, "tmpfs", libc.MS_NOSUID | libc.MS_STRICTATIME, "mode=755,size=65536k")
    for name in DEVICES:
        node = os.path.join(dev, name)
        os.close(os.open(node, os.O_WRONLY | os.O_CREAT, 0o666))
        libc.mount(f"/dev/{name}", node, None, libc.MS_BIND)
    for name, target in _DEV_LINKS.items():
        os.symlink(target, os.path.join(dev, name))
    for sub in ("shm", "pts", "mqueue"):
        os.mkdir(os.path.join(dev, sub), 0o755)
    libc.mount(
        "shm",
        os.path.join(dev, "shm"),
        "tmpfs",
        libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
        "mode=1777,size=65536k",
    )
    with contextlib.suppress(OSError):  # optional: only terminals need it
        libc.mount(
            "devpts",
            os.path.join(dev, "pts"),
            "devpts",
            libc.MS_NOSUID | libc.MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620",
        )
    # private copies of resolv.conf and hosts: a RUN may write them, the host never sees it
    for index, (target, content) in enumerate(files.items()):
        staged = os.path.join(dev, f".stage{index}")
        with open(staged, "wb") as handle:
            handle.write(content)
        libc.mount(staged, target, None, libc.MS_BIND)
        os.unlink(staged)


def _sys(target: str) -> None:
    try:
        libc.mount("/sys", target, None, libc.MS_BIND)
    except OSError:
        try:
            libc.mount("/sys", target, None, libc.MS_BIND | libc.MS_REC)
        except OSError:
            return  # optional
    try:
        _readonly(target, 0)
    except OSError:
        libc.umount2(target, libc.MNT_DETACH)


def _under(plan: RootPlan, name: str) -> str:
    top, _, rest = name.partition("/")
    return os.path.join(plan.proc if top == "proc" else plan.sys, rest)


def _mask(plan: RootPlan) -> None:
    """Hide ``MASKED`` and make ``READ_ONLY`` read-only, below the fresh /proc and the /sys."""
    for name in READ_ONLY:
        target = _under(plan, name)
        if os.path.lexists(target):
            libc.mount(target, target, None, libc.MS_BIND)
            _readonly(target, 0)
    for name in MASKED:
        target = _under(plan, name)
        if os.path.islink(target) or not os.path.exists(target):
            continue
        if os.path.isdir(target):
            libc.mount("tmpfs", target, "tmpfs", libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV)
        else:
            libc.mount("/dev/null", target, None, libc.MS_BIND)


def _mount_point(target: str, mount: Mount) -> None:
    if mount.type == "tmpfs" or (mount.source is not None and mount.source.is_dir()):
        os.makedirs(target, 0o755, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))


def assemble(plan: RootPlan) -> None:
    """Mount everything for the root (run as pid 1 of the new pid namespace), then pivot."""
    libc.mount(plan.root, plan.root, None, libc.MS_BIND | libc.MS_REC)
    libc.mount("proc", plan.proc, "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    _dev(plan.dev, plan.files)
    _sys(plan.sys)
    _mask(plan)
    for target, mount in plan.mounts:
        if not os.path.lexists(target):  # below the fresh /dev tmpfs (heredoc scripts)
            _mount_point(target, mount)
        if mount.type == "tmpfs":
            flags = libc.MS_NOSUID | libc.MS_NODEV
            libc.mount("tmpfs", target, "tmpfs", flags, f"mode={mount.mode:o}")
            continue
        libc.mount(str(mount.source), target, None, libc.MS_BIND | libc.MS_REC)
        if mount.readonly:
            _readonly(target, 0)
    os.chdir(plan.root)
    try:
        libc.pivot_root(".", ".")
        libc.umount2(".", libc.MNT_DETACH)
    except OSError:
        os.chroot(".")  # e.g. the host root is an initramfs, where pivot_root is refused
    os.chdir("/")
