"""The RUN step's seccomp filter: the syscalls a container under docker's default profile
cannot make fail here too, with the same errno.

The policy is data (``DENIED``, ``NAMESPACE_FLAGS``): each denied syscall names the
capability that would allow it, as docker's profile makes some rules conditional on the
container's capabilities. The command keeps docker's default set (``CAPABILITIES``), so a
rule whose capability is in that set is left out, and the rest deny.

libseccomp (the library docker itself needs) compiles the policy to BPF once, in the parent;
the command's process only hands the bytes to ``prctl(PR_SET_SECCOMP)``
(``libc.seccomp_filter``), so no library call runs between fork and exec.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform

__all__ = ["CAPABILITIES", "DENIED", "NAMESPACE_FLAGS", "build"]

# docker's default capability set: chown dac_override fowner fsetid kill setgid setuid setpcap
# net_bind_service net_raw sys_chroot mknod audit_write setfcap
CAPABILITIES = frozenset({0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31})
_SYS_MODULE, _SYS_RAWIO, _SYS_PACCT, _SYS_ADMIN, _SYS_BOOT = 16, 17, 20, 21, 22
_SYS_TTY_CONFIG = 26
_SYS_NICE, _SYS_RESOURCE, _SYS_TIME, _SYS_PTRACE, _SYSLOG, _BPF, _PERFMON = (
    23, 24, 25, 19, 34, 39, 38,
)  # fmt: skip
_ANY = None  # denied whatever the capabilities

# syscall -> the capability under which docker's default profile allows it
DENIED: dict[str, int | None] = {
    "acct": _SYS_PACCT,
    "add_key": _ANY,
    "bpf": _BPF,
    "clock_adjtime": _SYS_TIME,
    "clock_settime": _SYS_TIME,
    "create_module": _SYS_MODULE,
    "delete_module": _SYS_MODULE,
    "fanotify_init": _SYS_ADMIN,
    "finit_module": _SYS_MODULE,
    "fsconfig": _SYS_ADMIN,
    "fsmount": _SYS_ADMIN,
    "fsopen": _SYS_ADMIN,
    "fspick": _SYS_ADMIN,
    "get_kernel_syms": _SYS_MODULE,
    "get_mempolicy": _SYS_NICE,
    "init_module": _SYS_MODULE,
    "ioperm": _SYS_RAWIO,
    "iopl": _SYS_RAWIO,
    "kcmp": _SYS_PTRACE,
    "kexec_file_load": _SYS_BOOT,
    "kexec_load": _SYS_BOOT,
    "keyctl": _ANY,
    "lookup_dcookie": _SYS_ADMIN,
    "mbind": _SYS_NICE,
    "mount": _SYS_ADMIN,
    "mount_setattr": _SYS_ADMIN,
    "move_mount": _SYS_ADMIN,
    "move_pages": _SYS_NICE,
    "name_to_handle_at": _SYS_ADMIN,
    "nfsservctl": _ANY,
    "open_by_handle_at": _SYS_ADMIN,
    "open_tree": _SYS_ADMIN,
    "perf_event_open": _PERFMON,
    "pivot_root": _SYS_ADMIN,
    "process_vm_readv": _SYS_PTRACE,
    "process_vm_writev": _SYS_PTRACE,
    "query_module": _SYS_MODULE,
    "quotactl": _SYS_ADMIN,
    "quotactl_fd": _SYS_ADMIN,
    "reboot": _SYS_BOOT,
    "request_key": _ANY,
    "set_mempolicy": _SYS_NICE,
    "setns": _SYS_ADMIN,
    "settimeofday": _SYS_TIME,
    "stime": _SYS_TIME,
    "swapoff": _SYS_ADMIN,
    "swapon": _SYS_ADMIN,
    "syslog": _SYSLOG,
    "_sysctl": _ANY,
    "sysfs": _ANY,
    "umount": _SYS_ADMIN,
    "umount2": _SYS_ADMIN,
    "unshare": _SYS_ADMIN,
    "uselib": _ANY,
    "userfaultfd": _ANY,
    "ustat": _ANY,
    "vhangup": _SYS_TTY_CONFIG,
    "vm86": _ANY,
    "vm86old": _ANY,
}
# clone with any of these flags needs CAP_SYS_ADMIN (new namespaces)
NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
# clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone
_CLONE3_ERRNO = errno.ENOSYS

_ACT_ALLOW = 0x7FFF0000
_CMP_MASKED_EQ = 7
# extra ABIs the native kernel also runs: their syscalls get the same table
_EXTRA_ARCHES = {"x86_64": (0x40000003, 0x4000003E), "aarch64": (0x40000028,)}
_KNOWN_ARCHES = ("x86_64", "aarch64")


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _rule(lib: ctypes.CDLL, ctx: int, action: int, name: str, *cmp: _ArgCmp) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        return  # not a syscall of this architecture (vm86 on x86_64)
    array = (_ArgCmp * max(len(cmp), 1))(*cmp)
    result = lib.seccomp_rule_add_array(ctx, action, number, len(cmp), array)
    if result != 0:
        raise OSError(-result, f"seccomp rule for {name}: {os.strerror(-result)}")


def build(capabilities: frozenset[int] = CAPABILITIES) -> bytes:
    """The BPF program (struct sock_filter array) for this machine's architecture.

    Raises ``OSError`` when libseccomp is missing or refuses the policy.
    """
    machine = platform.machine()
    if machine not in _KNOWN_ARCHES:
        raise OSError(errno.ENOTSUP, f"no seccomp table for {machine}")
    lib = _library()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    try:
        for arch in _EXTRA_ARCHES.get(machine, ()):
            lib.seccomp_arch_add(ctx, arch)  # an ABI the kernel lacks stays refused by default
        eperm = _errno_action(errno.EPERM)
        for name, capability in DENIED.items():
            if capability is None or capability not in capabilities:
                _rule(lib, ctx, eperm, name)
        if _SYS_ADMIN not in capabilities:
            for flag in NAMESPACE_FLAGS:
                _rule(lib, ctx, eperm, "clone", _ArgCmp(0, _CMP_MASKED_EQ, flag, flag))
            _rule(lib, ctx, _errno_action(_CLONE3_ERRNO), "clone3")
        memfd = os.memfd_create("seccomp-bpf")
        try:
            result = lib.seccomp_export_bpf(ctx, memfd)
            if result != 0:
                raise OSError(-result, f"seccomp_export_bpf: {os.strerror(-result)}")
            size = os.lseek(memfd, 0, os.SEEK_CUR)
            return os.pread(memfd, size, 0)
        finally:
            os.close(memfd)
    finally:
        lib.seccomp_release(ctx)
