"""Registry authentication: parsing challenges and fetching bearer tokens."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from pytest_imagebuild.errors import RegistryError

from .credentials import Credentials

__all__ = ["Challenge", "basic_header", "fetch_token", "parse_challenge"]

_PARAM = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header: scheme (``basic``/``bearer``) and parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        scope = self.params.get("scope", "")
        return tuple(scope.split(" ")) if scope else ()


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="...",service="...",scope="..."`` -> Challenge; None when unparseable."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM.finditer(rest)
    }
    params = {k: v.replace('\\"', '"') for k, v in params.items()}
    return Challenge(scheme.lower(), params)


def basic_header(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def fetch_token(
    http: httpx.Client,
    challenge: Challenge,
    scopes: Sequence[str],
    creds: Credentials | None,
    *,
    registry: str,
    what: str,
    config_path: str,
) -> str:
    """Ask the challenge's realm for a token covering ``scopes`` (docker's token protocol)."""
    if creds is not None and creds.registry_token:
        return creds.registry_token
    if not challenge.realm:
        raise RegistryError(f"registry {registry} sent a bearer challenge without a realm")
    try:
        if creds is not None and creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "service": challenge.service,
                "scope": " ".join(scopes),
                "client_id": "pytest-imagebuild",
            }
            resp = http.post(challenge.realm, data=form)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = []
            if challenge.service:
                params.append(("service", challenge.service))
            params += [("scope", s) for s in scopes]
            auth = (creds.username, creds.password) if creds and creds.username else None
            resp = http.get(challenge.realm, params=params, auth=auth)
    except httpx.HTTPError as exc:
        raise RegistryError(
            f"cannot reach the token service {challenge.realm} of registry {registry}: {exc}",
            hint="the registry sends clients there to log in; is it reachable from here?",
        ) from exc
    if resp.status_code in (401, 403):
        raise auth_failure(registry, what, creds, config_path)
    if resp.status_code != 200:
        raise RegistryError(
            f"token service {challenge.realm} of registry {registry} answered "
            f"{resp.status_code} for {what}: {resp.text[:200]}"
        )
    try:
        body = resp.json()
        token = body.get("token") or body.get("access_token")
    except ValueError:
        token = None
    if not token:
        raise RegistryError(f"token service {challenge.realm} returned no token for {what}")
    return str(token)


def auth_failure(
    registry: str, what: str, creds: Credentials | None, config_path: str
) -> RegistryError:
    """The 401 error: either no credentials were found, or they were rejected."""
    if creds is None:
        return RegistryError(
            f"registry {registry} requires authentication for {what}: "
            f"no credentials for {registry} in {config_path}",
            hint=f"run `docker login {registry}` (or write config.json, or set DOCKER_CONFIG "
            "to its directory); CI_REGISTRY/CI_REGISTRY_USER/CI_REGISTRY_PASSWORD also work",
        )
    return RegistryError(
        f"registry {registry} rejected the credentials for {what} (from {creds.source})",
        hint=f"check the username and password for {registry} in {creds.source}",
    )
