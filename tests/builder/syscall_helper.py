"""A small static program that makes one syscall by name and prints its errno.

busybox has no applet for ``keyctl``, ``add_key``, ``kexec_load`` or ``clone3``, and those
are the calls a kernel allows but docker's default seccomp profile denies, so the isolation
tests compile this helper (gcc and the static libc from libc6-dev) into each stage root.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
static const struct { const char *name; long nr; } calls[] = {
    {"keyctl", SYS_keyctl}, {"add_key", SYS_add_key}, {"request_key", SYS_request_key},
    {"kexec_load", SYS_kexec_load}, {"reboot", SYS_reboot}, {"unshare", SYS_unshare},
    {"mount", SYS_mount}, {"umount2", SYS_umount2}, {"setns", SYS_setns},
    {"clone3", SYS_clone3}, {"pivot_root", SYS_pivot_root}, {"bpf", SYS_bpf},
    {"getpid", SYS_getpid},
};
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long nr = -1;
        for (unsigned j = 0; j < sizeof calls / sizeof calls[0]; j++)
            if (strcmp(calls[j].name, argv[i]) == 0) nr = calls[j].nr;
        if (nr < 0) { printf("%s unknown\n", argv[i]); return 2; }
        /* unshare(CLONE_NEWUSER): allowed by the kernel to anyone outside a chroot */
        long arg = strcmp(argv[i], "unshare") == 0 ? 0x10000000L : 0L;
        long r = syscall(nr, arg, 0L, 0L, 0L, 0L);
        printf("%s %d\n", argv[i], r < 0 ? errno : 0);
    }
    return 0;
}
"""


@functools.cache
def helper() -> Path:
    """The compiled helper (once per process)."""
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is missing: apt-get install gcc libc6-dev (scripts/setup)")
    work = Path(tempfile.mkdtemp(prefix="syscall-helper-"))
    (work / "syscall.c").write_text(SOURCE)
    done = subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(work / "syscall"), str(work / "syscall.c")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot build the static syscall helper: {done.stderr}")
    work.chmod(0o755)
    return work / "syscall"


def install(root: Path) -> None:
    """Copy the helper to ``root/bin/syscall``."""
    shutil.copy2(helper(), root / "bin" / "syscall")
