"""The host platform and choosing one manifest from an index or manifest list."""

from __future__ import annotations

import platform as _platform
from collections.abc import Sequence
from typing import Any

from pytest_imagebuild.oci import Descriptor, Platform, machine_platform

__all__ = ["descriptor_from_json", "host_platform", "platform_matches", "select_manifest"]

_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7"}


def host_platform(machine: str | None = None) -> Platform:
    """The platform of this machine as OCI names it (x86_64 -> linux/amd64)."""
    return machine_platform(machine or _platform.machine())


def _normalized(plat: Platform) -> Platform:
    variant = plat.variant or _DEFAULT_VARIANTS.get(plat.architecture)
    return Platform(plat.os, plat.architecture, variant)


def platform_matches(wanted: Platform, offered: Platform) -> bool:
    """Same os and architecture; variants compared with their defaults (arm64 means v8)."""
    want, have = _normalized(wanted), _normalized(offered)
    if (want.os, want.architecture) != (have.os, have.architecture):
        return False
    return wanted.variant is None or want.variant == have.variant


def descriptor_from_json(data: dict[str, Any]) -> Descriptor:
    """A Descriptor from an index or manifest entry."""
    plat = data.get("platform")
    platform = None
    if isinstance(plat, dict):
        platform = Platform(
            str(plat.get("os", "")), str(plat.get("architecture", "")), plat.get("variant")
        )
    return Descriptor(
        media_type=str(data.get("mediaType", "")),
        digest=str(data["digest"]),
        size=int(data.get("size", 0)),
        annotations=dict(data.get("annotations") or {}),
        platform=platform,
    )


def select_manifest(entries: Sequence[Descriptor], wanted: Platform) -> Descriptor | None:
    """The first entry for ``wanted``; a variant-less request prefers the default variant
    (``linux/arm`` picks v7, ``linux/arm64`` v8) and otherwise takes any variant."""
    matching = [
        d for d in entries if d.platform is not None and platform_matches(wanted, d.platform)
    ]
    want = _normalized(wanted).variant
    for desc in matching:
        if desc.platform is not None and _normalized(desc.platform).variant == want:
            return desc
    return matching[0] if matching else None
