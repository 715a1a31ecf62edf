"""Where credentials come from: docker's config.json, credential helpers, GitLab CI vars."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_imagebuild.errors import RegistryError, UsageError

from .options import RegistryOptions
from .reference import is_docker_hub

__all__ = ["Credentials", "find_credentials", "normalize_registry_key"]

_HUB_SERVER = "https://index.docker.io/v1/"
_NOT_FOUND = "credentials not found"


@dataclass(frozen=True)
class Credentials:
    """Username and password, or an identity (refresh) token, or a ready bearer token."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    source: str = ""

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def normalize_registry_key(key: str) -> str:
    """``https://host:5000/v1/`` -> ``host:5000``; every Docker Hub alias -> ``docker.io``."""
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return "docker.io" if is_docker_hub(host) else host


def _server_url(registry: str) -> str:
    return _HUB_SERVER if is_docker_hub(registry) else registry


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read docker config {path}: {exc}",
            hint="fix or remove the file; it must be JSON like docker login writes",
        ) from exc
    return data if isinstance(data, dict) else {}


def run_helper(name: str, server: str, source: str) -> Credentials | None:
    """Speak the docker-credential-helpers protocol: ``get`` with the server on stdin."""
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=60, check=False
        )
    except FileNotFoundError as exc:
        raise RegistryError(
            f"credential helper {program} named in {source} is not on PATH",
            hint=f"install {program} or remove it from {source}",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise RegistryError(f"credential helper {program} did not answer for {server}") from exc
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        if _NOT_FOUND in (out + proc.stderr.decode(errors="replace")).lower():
            return None
        raise RegistryError(
            f"credential helper {program} failed for {server}: {out or proc.stderr.decode()}",
            hint=f"run `echo {server} | {program} get` to see why",
        )
    try:
        data = json.loads(out)
        username, secret = str(data.get("Username", "")), str(data["Secret"])
    except (ValueError, KeyError, AttributeError) as exc:
        raise RegistryError(f"credential helper {program} printed no credentials JSON") from exc
    where = f"{program} ({source})"
    if username == "<token>":
        return Credentials(identity_token=secret, source=where)
    return Credentials(username=username, password=secret, source=where)


def _from_auth_entry(entry: dict[str, Any], source: str) -> Credentials | None:
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    encoded = entry.get("auth")
    if encoded:
        try:
            decoded = base64.b64decode(str(encoded), validate=False).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"the auth entry in {source} is not base64 user:password") from exc
        username, _, password = decoded.partition(":")
    creds = Credentials(
        username=username,
        password=password,
        identity_token=str(entry.get("identitytoken") or ""),
        registry_token=str(entry.get("registrytoken") or ""),
        source=source,
    )
    if not (creds.username or creds.password or creds.identity_token or creds.registry_token):
        return None
    return creds


def _from_docker_config(registry: str, options: RegistryOptions) -> Credentials | None:
    path = options.docker_config_dir() / "config.json"
    config = _read_config(path)
    host = normalize_registry_key(registry)
    helpers = config.get("credHelpers") or {}
    for key, helper in helpers.items():
        if normalize_registry_key(key) == host and helper:
            return run_helper(str(helper), _server_url(registry), str(path))
    store = config.get("credsStore")
    if store:
        found = run_helper(str(store), _server_url(registry), str(path))
        if found is not None:
            return found
    for key, entry in (config.get("auths") or {}).items():
        if normalize_registry_key(key) == host and isinstance(entry, dict):
            creds = _from_auth_entry(entry, str(path))
            if creds is not None:
                return creds
    return None


def _from_gitlab(registry: str, options: RegistryOptions) -> Credentials | None:
    env = options.environ
    ci_registry = env.get("CI_REGISTRY", "")
    user, password = env.get("CI_REGISTRY_USER", ""), env.get("CI_REGISTRY_PASSWORD", "")
    if not (ci_registry and user and password):
        return None
    if normalize_registry_key(ci_registry) != normalize_registry_key(registry):
        return None
    return Credentials(username=user, password=password, source="CI_REGISTRY_USER/PASSWORD")


def find_credentials(registry: str, options: RegistryOptions) -> Credentials | None:
    """Credentials for ``registry``: docker config (helpers first), then GitLab CI variables."""
    return _from_docker_config(registry, options) or _from_gitlab(registry, options)
