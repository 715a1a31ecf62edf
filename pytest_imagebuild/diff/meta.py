"""The config, layers and history sections, as flat dotted fields compared one by one."""

from __future__ import annotations

import json
from typing import Any

from pytest_imagebuild.diff.ignore import Rules
from pytest_imagebuild.diff.model import FieldChange, Value
from pytest_imagebuild.image import Image

__all__ = ["compare_fields", "config_fields", "history_fields", "layer_fields"]

# Runtime keys with their own field names; any other key is compared as config.raw.<Key>.
NAMED = {
    "Env",
    "Entrypoint",
    "Cmd",
    "User",
    "WorkingDir",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "Healthcheck",
    "StopSignal",
    "Shell",
    "OnBuild",
}
TOP_NAMED = {"config", "rootfs", "history", "os", "architecture", "variant", "created"}


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def config_fields(image: Image) -> dict[str, Value]:
    """Every config key as ``config.<name>``: env and labels one field per key."""
    out: dict[str, Value] = {}
    for key, value in image.env.items():
        out["config.env." + key] = value
    for key, value in image.labels.items():
        out["config.labels." + key] = value
    out["config.entrypoint"] = image.entrypoint
    out["config.cmd"] = image.cmd
    out["config.user"] = image.user
    out["config.workdir"] = image.workdir
    out["config.ports"] = image.exposed_ports
    out["config.volumes"] = image.volumes
    health = image.healthcheck
    if health is not None:
        out["config.healthcheck.test"] = health.test
        out["config.healthcheck.interval"] = health.interval
        out["config.healthcheck.timeout"] = health.timeout
        out["config.healthcheck.start_period"] = health.start_period
        out["config.healthcheck.start_interval"] = health.start_interval
        out["config.healthcheck.retries"] = health.retries
    out["config.stopsignal"] = image.stop_signal
    out["config.shell"] = image.shell
    out["config.onbuild"] = image.onbuild
    out["config.os"] = image.os
    out["config.arch"] = image.architecture
    out["config.variant"] = image.variant
    out["config.created"] = image.created
    run = image.config.get("config")
    for key, value in sorted(run.items() if isinstance(run, dict) else ()):
        if key not in NAMED and value not in (None, "", [], {}, False):
            out["config.raw." + key] = _text(value)
    for key, value in sorted(image.config.items()):
        if key not in TOP_NAMED and value not in (None, "", [], {}):
            out["config.top." + key] = _text(value)
    return out


def layer_fields(image: Image) -> dict[str, Value]:
    """``layers.count`` and per layer (bottom first) ``layers.diff_ids.N``,
    ``layers.digests.N`` and ``layers.sizes.N``."""
    out: dict[str, Value] = {"layers.count": len(image.layers)}
    for n, layer in enumerate(image.layers):
        out[f"layers.diff_ids.{n}"] = layer.diff_id
        out[f"layers.digests.{n}"] = layer.digest
        out[f"layers.sizes.{n}"] = layer.size
    return out


def history_fields(image: Image) -> dict[str, Value]:
    """``history.count`` and per entry ``history.<key>.N`` for created_by, empty_layer,
    created, comment and author."""
    out: dict[str, Value] = {"history.count": len(image.history)}
    for n, h in enumerate(image.history):
        out[f"history.created_by.{n}"] = h.created_by
        out[f"history.empty_layer.{n}"] = int(h.empty_layer)
        out[f"history.created.{n}"] = h.created
        out[f"history.comment.{n}"] = h.comment
        out[f"history.author.{n}"] = h.author
    return out


def _order(name: str) -> tuple[str, int]:
    head, _, tail = name.rpartition(".")
    return (head, int(tail)) if tail.isdigit() else (name, -1)


def compare_fields(
    old: dict[str, Value], new: dict[str, Value], rules: Rules
) -> tuple[FieldChange, ...]:
    """Every field whose value differs (a field one side lacks is None there)."""
    out = []
    for name in sorted(old.keys() | new.keys(), key=_order):
        x, y = old.get(name), new.get(name)
        if x != y and not rules.skips_field(name):
            out.append(FieldChange(name, x, y))
    return tuple(out)
