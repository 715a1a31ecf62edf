"""Registry settings: plain HTTP, TLS trust, mirrors and retries (kaniko's flags)."""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild.errors import UsageError

from .reference import DOCKER_HUB, is_docker_hub

__all__ = ["RegistryOptions", "is_loopback", "parse_registry_map"]


def _host_only(host: str) -> str:
    """``127.0.0.1:5000`` -> ``127.0.0.1``; ``[::1]:5000`` -> ``::1``."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1, with or without a port."""
    name = _host_only(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hub_key(registry: str) -> str:
    return DOCKER_HUB if is_docker_hub(registry) else registry


def parse_registry_map(text: str) -> dict[str, tuple[str, ...]]:
    """kaniko's ``--registry-map`` value: ``orig=new[;orig=new2]`` (repeated keys add mirrors)."""
    out: dict[str, tuple[str, ...]] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        orig, sep, new = item.partition("=")
        if not sep or not orig or not new:
            raise UsageError(
                f"invalid registry map entry {item!r}",
                hint="use ORIGINAL=MIRROR, e.g. index.docker.io=mirror.example.com/hub",
            )
        key = _hub_key(orig.strip())
        out[key] = (*out.get(key, ()), *(m.strip() for m in new.split(",") if m.strip()))
    return out


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries. Build one for pulls and one for pushes, as kaniko's flags do.

    ``insecure``/``insecure_registries``: plain HTTP allowed (HTTPS is tried first, then HTTP,
    as docker does); loopback registries always allow it. ``skip_tls_verify`` turns off
    certificate checks. ``certificates`` maps a registry to an extra CA bundle (PEM);
    ``client_certificates`` to a (cert, key) pair. ``mirrors`` are Docker Hub mirrors;
    ``registry_map`` maps a registry to mirrors ``host[/prefix]`` tried in order for pulls.

    Faults: each request is retried ``retries`` times on connection errors, read timeouts
    (``timeout`` seconds without a byte) and 408/429/5xx, waiting ``backoff * 2**n`` with
    jitter (at most ``max_backoff``) or the server's Retry-After (at most
    ``max_retry_after``). ``push_retries`` (kaniko's ``--push-retry``) and ``pull_retries``
    (``--image-download-retry``) run a whole push or pull again on top of that.
    """

    insecure: bool = False
    insecure_registries: frozenset[str] = frozenset()
    skip_tls_verify: bool = False
    skip_tls_verify_registries: frozenset[str] = frozenset()
    certificates: Mapping[str, Path] = field(default_factory=dict)
    client_certificates: Mapping[str, tuple[Path, Path]] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()
    registry_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    skip_default_registry_fallback: bool = False
    retries: int = 2
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    timeout: float = 60.0
    push_retries: int = 0
    pull_retries: int = 0
    chunk_size: int | None = None
    docker_config: Path | None = None
    env: Mapping[str, str] | None = None
    user_agent: str = "pytest-imagebuild"

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self.env is None else self.env

    def allows_http(self, host: str) -> bool:
        return self.insecure or host in self.insecure_registries or is_loopback(host)

    def verifies_tls(self, host: str) -> bool:
        return not (self.skip_tls_verify or host in self.skip_tls_verify_registries)

    def docker_config_dir(self) -> Path:
        if self.docker_config is not None:
            return self.docker_config
        configured = self.environ.get("DOCKER_CONFIG")
        return Path(configured) if configured else Path.home() / ".docker"

    def mirrors_for(self, registry: str) -> tuple[str, ...]:
        """Mirrors to try, in order, before ``registry`` itself (pulls only)."""
        key = _hub_key(registry)
        found = tuple(self.registry_map.get(key, ()))
        if key == DOCKER_HUB:
            found = (*found, *self.mirrors)
        return found

    def ssl_context(self, host: str) -> ssl.SSLContext:
        """System trust plus SSL_CERT_DIR files plus the registry's own CA, if any."""
        if not self.verifies_tls(host):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context()
            for directory in filter(None, self.environ.get("SSL_CERT_DIR", "").split(":")):
                _load_dir(ctx, Path(directory))
            extra = self.certificates.get(host)
            if extra is not None:
                _load_ca(ctx, host, Path(extra))
        pair = self.client_certificates.get(host)
        if pair is not None:
            ctx.load_cert_chain(str(pair[0]), str(pair[1]))
        return ctx


def _load_ca(ctx: ssl.SSLContext, host: str, path: Path) -> None:
    try:
        ctx.load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot load the CA certificate {path} for registry {host}: {exc}",
            hint="--registry-certificate wants HOST=/path/to/ca.pem (PEM)",
        ) from exc


def _load_dir(ctx: ssl.SSLContext, directory: Path) -> None:
    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        if path.is_file():
            try:
                ctx.load_verify_locations(cafile=str(path))
            except (OSError, ssl.SSLError):
                continue
