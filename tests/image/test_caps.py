from __future__ import annotations

import struct

from pytest_imagebuild.image.caps import decode_capabilities


def caps_v2(permitted: int, inheritable: int = 0, effective: bool = True) -> bytes:
    magic = 0x02000000 | (1 if effective else 0)
    return struct.pack(
        "<IIIII",
        magic,
        permitted & 0xFFFFFFFF,
        inheritable & 0xFFFFFFFF,
        permitted >> 32,
        inheritable >> 32,
    )


def test_net_bind_service_ep() -> None:
    assert decode_capabilities(caps_v2(1 << 10)) == "cap_net_bind_service=ep"


def test_permitted_only() -> None:
    assert decode_capabilities(caps_v2(1 << 10, effective=False)) == "cap_net_bind_service=p"


def test_groups_by_flags() -> None:
    value = caps_v2((1 << 12) | (1 << 13), inheritable=1 << 21)
    assert decode_capabilities(value) == "cap_net_admin,cap_net_raw=ep cap_sys_admin=ei"


def test_high_capability_and_unknown_bit() -> None:
    assert decode_capabilities(caps_v2(1 << 38)) == "cap_perfmon=ep"
    assert decode_capabilities(caps_v2(1 << 50)) == "50=ep"


def test_v3_with_rootid() -> None:
    value = struct.pack("<IIIIII", 0x03000001, 1 << 10, 0, 0, 0, 1000)
    assert decode_capabilities(value) == "cap_net_bind_service=ep [rootid=1000]"
    root = struct.pack("<IIIIII", 0x03000001, 1 << 10, 0, 0, 0, 0)
    assert decode_capabilities(root) == "cap_net_bind_service=ep"


def test_v1_and_invalid() -> None:
    assert decode_capabilities(struct.pack("<III", 0x01000001, 1, 0)) == "cap_chown=ep"
    assert decode_capabilities(b"\x00\x00") is None
    assert decode_capabilities(struct.pack("<III", 0x07000000, 1, 0)) is None
