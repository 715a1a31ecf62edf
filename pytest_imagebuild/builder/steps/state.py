"""The state a stage carries from step to step: image config, history, layers and args."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BUILTIN_ARGS",
    "DEFAULT_PATH",
    "DEFAULT_SHELL",
    "LayerRecord",
    "StageState",
    "set_env",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
BUILTIN_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)


@dataclass(frozen=True)
class LayerRecord:
    """One layer of an image: blob digest (as stored), diff id, blob size, media type."""

    digest: str
    diff_id: str
    size: int
    media_type: str
    path: Path
    compressed: bool = False


def set_env(env: list[str], key: str, value: str) -> None:
    """Set ``key`` in a docker ``Env`` list, in place where it already is."""
    for i, item in enumerate(env):
        if item.split("=", 1)[0] == key:
            env[i] = f"{key}={value}"
            return
    env.append(f"{key}={value}")


def env_map(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


@dataclass
class StageState:
    """Mutable per-stage build state; ``config`` uses docker's container-config keys."""

    config: dict[str, Any] = field(default_factory=dict)
    author: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[LayerRecord] = field(default_factory=list)
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    media_types: str = "docker"
    build_args: Mapping[str, str | None] = field(default_factory=dict)
    meta_args: Mapping[str, str | None] = field(default_factory=dict)
    declared: dict[str, str | None] = field(default_factory=dict)
    used_args: set[str] = field(default_factory=set)
    cmd_set: bool = False
    root: Path | None = None
    extra_base: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_image_config(cls, image_config: Mapping[str, Any] | None, **kwargs: Any) -> StageState:
        """Start a stage from a base image's config JSON (None for scratch)."""
        raw = copy.deepcopy(dict(image_config or {}))
        state = cls(**kwargs)
        state.config = dict(raw.get("config") or {})
        state.history = list(raw.get("history") or [])
        state.author = raw.get("author") or None
        if raw.get("os"):
            state.os = raw["os"]
        if raw.get("architecture"):
            state.architecture = raw["architecture"]
        state.variant = raw.get("variant") or state.variant
        env = list(state.config.get("Env") or [])
        if "PATH" not in env_map(env):
            env.append("PATH=" + DEFAULT_PATH)
        state.config["Env"] = env
        return state

    # -- config accessors -------------------------------------------------------------
    @property
    def env(self) -> list[str]:
        env: list[str] = self.config.setdefault("Env", [])
        return env

    @property
    def shell(self) -> tuple[str, ...]:
        shell = self.config.get("Shell")
        return tuple(shell) if shell else DEFAULT_SHELL

    @property
    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "")

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "")

    # -- build arguments ----------------------------------------------------------------
    def declare_arg(self, name: str, default: str | None) -> None:
        if default is None and name in self.meta_args:
            default = self.meta_args[name]
        self.declared[name] = default

    def arg_values(self) -> dict[str, str]:
        """Declared args that have a value (``--build-arg`` beats the default)."""
        out: dict[str, str] = {}
        for name, default in self.declared.items():
            given = self.build_args.get(name)
            value = given if given is not None else default
            if value is not None:
                out[name] = value
        for name in BUILTIN_ARGS:
            given = self.build_args.get(name)
            if name not in out and given is not None:
                out[name] = given
        return out

    def expansion_env(self) -> dict[str, str]:
        """What ``$VAR`` sees in ENV, COPY, WORKDIR...: args, overridden by ENV."""
        values = self.arg_values()
        values.update(env_map(self.env))
        return values

    def run_args(self) -> dict[str, str]:
        """Arg values a RUN sees that ENV does not override."""
        env = env_map(self.env)
        return {k: v for k, v in self.arg_values().items() if k not in env}

    def history_args(self) -> list[str]:
        """The sorted ``K=V`` docker prefixes RUN history with (``|N K=V ...``)."""
        return sorted(
            f"{k}={v}"
            for k, v in self.run_args().items()
            if k not in BUILTIN_ARGS or k in self.declared
        )

    def run_env(self) -> list[str]:
        """The environment of a RUN: ENV plus args ENV does not override."""
        out = list(self.env)
        out.extend(f"{k}={v}" for k, v in sorted(self.run_args().items()))
        return out
