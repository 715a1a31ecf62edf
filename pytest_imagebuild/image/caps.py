"""Decode the ``security.capability`` xattr (VFS caps v1/v2/v3) into getcap-style text."""

from __future__ import annotations

import struct

__all__ = ["decode_capabilities"]

NAMES = (
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
)
REVISION_MASK = 0xFF000000
EFFECTIVE = 0x000001
SIZES = {0x01000000: 1, 0x02000000: 2, 0x03000000: 2}


def _name(bit: int) -> str:
    return "cap_" + NAMES[bit] if bit < len(NAMES) else str(bit)


def decode_capabilities(value: bytes) -> str | None:
    """Return text like "cap_net_bind_service=ep", or None if the value is not valid."""
    if len(value) < 4:
        return None
    (magic,) = struct.unpack_from("<I", value)
    words = SIZES.get(magic & REVISION_MASK)
    if words is None or len(value) < 4 + 8 * words:
        return None
    permitted = inheritable = 0
    for i in range(words):
        p, inh = struct.unpack_from("<II", value, 4 + 8 * i)
        permitted |= p << (32 * i)
        inheritable |= inh << (32 * i)
    effective = magic & EFFECTIVE
    groups: dict[str, list[str]] = {}
    for bit in range(32 * words):
        flags = ""
        if effective and (permitted | inheritable) >> bit & 1:
            flags += "e"
        if inheritable >> bit & 1:
            flags += "i"
        if permitted >> bit & 1:
            flags += "p"
        if flags:
            groups.setdefault(flags, []).append(_name(bit))
    text = " ".join(",".join(caps) + "=" + flags for flags, caps in groups.items())
    if magic & REVISION_MASK == 0x03000000 and len(value) >= 24:
        (rootid,) = struct.unpack_from("<I", value, 20)
        if rootid:
            text += f" [rootid={rootid}]"
    return text
