"""Config, history and layers read from ``docker save`` output equal docker's own view."""

from __future__ import annotations

import json
import tarfile
from typing import Any

import pytest

from pytest_imagebuild.image import Healthcheck, Image
from tests.reference.conftest import Reference

pytestmark = pytest.mark.docker


def _expected_config(inspect: dict[str, Any], tag: str) -> dict[str, Any]:
    cfg = inspect["Config"]
    health = cfg.get("Healthcheck")
    return {
        "env": dict(item.split("=", 1) for item in cfg.get("Env") or ()),
        "cmd": tuple(cfg["Cmd"]) if cfg.get("Cmd") is not None else None,
        "entrypoint": tuple(cfg["Entrypoint"]) if cfg.get("Entrypoint") is not None else None,
        "user": cfg.get("User") or "",
        "workdir": cfg.get("WorkingDir") or "",
        "labels": dict(cfg.get("Labels") or {}),
        "exposed_ports": tuple(sorted(cfg.get("ExposedPorts") or {})),
        "volumes": tuple(sorted(cfg.get("Volumes") or {})),
        "healthcheck": None
        if health is None
        else Healthcheck(
            test=tuple(health["Test"]),
            interval=health.get("Interval", 0),
            timeout=health.get("Timeout", 0),
            start_period=health.get("StartPeriod", 0),
            start_interval=health.get("StartInterval", 0),
            retries=health.get("Retries", 0),
        ),
        "stop_signal": cfg.get("StopSignal") or None,
        "shell": tuple(cfg["Shell"]) if cfg.get("Shell") is not None else None,
        "onbuild": tuple(cfg.get("OnBuild") or ()),
        "os": inspect["Os"],
        "architecture": inspect["Architecture"],
        "variant": inspect.get("Variant") or None,
        "created": inspect["Created"],
        "id": inspect["Id"],
        "repo_tags": (tag,),
    }


def _actual_config(image: Image) -> dict[str, Any]:
    return {
        "env": image.env,
        "cmd": image.cmd,
        "entrypoint": image.entrypoint,
        "user": image.user,
        "workdir": image.workdir,
        "labels": image.labels,
        "exposed_ports": tuple(sorted(image.exposed_ports)),
        "volumes": tuple(sorted(image.volumes)),
        "healthcheck": image.healthcheck,
        "stop_signal": image.stop_signal,
        "shell": image.shell,
        "onbuild": image.onbuild,
        "os": image.os,
        "architecture": image.architecture,
        "variant": image.variant,
        "created": image.created,
        "id": image.id,
        "repo_tags": image.repo_tags,
    }


def test_config_matches_inspect(reference: Reference) -> None:
    with Image.open(reference.saved) as image:
        assert _actual_config(image) == _expected_config(reference.inspect, reference.tag)


def _raw_history(reference: Reference) -> list[dict[str, Any]]:
    """The config's history array, read straight from the saved tarball."""
    with tarfile.open(reference.saved) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        config = tar.extractfile(json.load(manifest)[0]["Config"])
        assert config is not None
        return list(json.load(config).get("history") or [])


def test_history_matches_docker_history(reference: Reference) -> None:
    raw = _raw_history(reference)
    with Image.open(reference.saved) as image:
        history = image.history
    assert [h.created_by for h in history] == list(reference.history)
    assert [h.empty_layer for h in history] == [bool(h.get("empty_layer")) for h in raw]
    assert [h.comment for h in history] == [h.get("comment", "") for h in raw]
    assert [h.created for h in history] == [h.get("created") for h in raw]


def test_layers_match_inspect(reference: Reference) -> None:
    diff_ids = reference.inspect["RootFS"]["Layers"]
    with Image.open(reference.saved) as image:
        layers = image.layers
        history = image.history
    assert [layer.diff_id for layer in layers] == diff_ids
    assert [layer.index for layer in layers] == list(range(len(diff_ids)))
    assert len([h for h in history if not h.empty_layer]) == len(diff_ids)
    assert [layer.created_by for layer in layers] == [
        h.created_by for h in history if not h.empty_layer
    ]
