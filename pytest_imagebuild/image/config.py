"""The image config as values: history, healthcheck and the runtime settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_imagebuild.errors import ImageFormatError

__all__ = [
    "Healthcheck",
    "HistoryEntry",
    "diff_ids",
    "keys",
    "labels",
    "parse_env",
    "parse_healthcheck",
    "parse_history",
    "runtime",
    "strs",
]


@dataclass(frozen=True)
class Healthcheck:
    """HEALTHCHECK settings; durations in nanoseconds, as docker stores them."""

    test: tuple[str, ...]
    interval: int
    timeout: int
    start_period: int
    start_interval: int
    retries: int


@dataclass(frozen=True)
class HistoryEntry:
    """One history record of the config; ``empty_layer`` entries made no layer."""

    created: str | None
    created_by: str
    empty_layer: bool
    comment: str
    author: str


def _strs(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageFormatError(f"image config: {what} is not a list of strings")
    return tuple(value)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImageFormatError(f"image config: {what} is not an object")
    return value


def runtime(config: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` section (docker also accepts ``container_config`` in old images)."""
    return _dict(config.get("config"), "config")


def parse_env(run: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in _strs(run.get("Env"), "Env") or ():
        key, _, value = item.partition("=")
        env[key] = value
    return env


def strs(run: dict[str, Any], key: str) -> tuple[str, ...] | None:
    return _strs(run.get(key), key)


def keys(run: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(sorted(_dict(run.get(key), key)))


def labels(run: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(run.get("Labels"), "Labels").items()}


def parse_healthcheck(run: dict[str, Any]) -> Healthcheck | None:
    raw = run.get("Healthcheck")
    if raw is None:
        return None
    raw = _dict(raw, "Healthcheck")
    return Healthcheck(
        test=_strs(raw.get("Test"), "Healthcheck.Test") or (),
        interval=int(raw.get("Interval") or 0),
        timeout=int(raw.get("Timeout") or 0),
        start_period=int(raw.get("StartPeriod") or 0),
        start_interval=int(raw.get("StartInterval") or 0),
        retries=int(raw.get("Retries") or 0),
    )


def parse_history(config: dict[str, Any]) -> tuple[HistoryEntry, ...]:
    items = config.get("history") or []
    if not isinstance(items, list):
        raise ImageFormatError("image config: history is not a list")
    out = []
    for item in items:
        item = _dict(item, "history entry")
        out.append(
            HistoryEntry(
                created=item.get("created"),
                created_by=str(item.get("created_by") or ""),
                empty_layer=bool(item.get("empty_layer", False)),
                comment=str(item.get("comment") or ""),
                author=str(item.get("author") or ""),
            )
        )
    return tuple(out)


def diff_ids(config: dict[str, Any]) -> list[str]:
    rootfs = _dict(config.get("rootfs"), "rootfs")
    ids = rootfs.get("diff_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ImageFormatError("image config: rootfs.diff_ids is missing or not a list")
    return ids
