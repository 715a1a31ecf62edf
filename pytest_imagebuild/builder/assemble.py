"""The final image: config JSON as docker writes it, manifest, and the layer list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pytest_imagebuild import oci
from pytest_imagebuild.builder.output import LayoutLayer, build_manifest
from pytest_imagebuild.builder.steps.state import LayerRecord, StageState

__all__ = ["config_bytes", "layout_layers", "manifest_bytes"]

_CONFIG_ORDER: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""),
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("ExposedPorts", None),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("Env", None),
    ("Cmd", None),
    ("Healthcheck", None),
    ("ArgsEscaped", None),
    ("Image", ""),
    ("Volumes", None),
    ("WorkingDir", ""),
    ("Entrypoint", None),
    ("OnBuild", None),
    ("Labels", None),
    ("StopSignal", None),
    ("Shell", None),
)
_OMIT_WHEN_EMPTY = {"ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "Shell"}


def _container_config(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in _CONFIG_ORDER:
        value = config.get(key, default)
        if key in _OMIT_WHEN_EMPTY and not value:
            continue
        out[key] = value
    for key, value in config.items():
        if key not in out and key not in dict(_CONFIG_ORDER):
            out[key] = value
    return out


def config_bytes(state: StageState, created: str) -> bytes:
    """The image config blob for a finished stage."""
    body: dict[str, Any] = {"architecture": state.architecture}
    if state.author:
        body["author"] = state.author
    body["config"] = _container_config(state.config)
    body["created"] = created
    body["history"] = state.history
    body["os"] = state.os
    body["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in state.layers]}
    if state.variant:
        body["variant"] = state.variant
    return json.dumps(body, separators=(",", ":")).encode()


def layout_layers(layers: Sequence[LayerRecord]) -> list[LayoutLayer]:
    return [LayoutLayer(layer.digest, layer.size, layer.path, layer.media_type) for layer in layers]


def manifest_bytes(state: StageState, config: bytes) -> tuple[bytes, str]:
    """Manifest bytes and media type: OCI when the base was OCI, else Docker v2.2."""
    media_type = oci.OCI_MANIFEST if state.media_types == "oci" else oci.DOCKER_MANIFEST
    return build_manifest(config, layout_layers(state.layers), media_type=media_type), media_type
