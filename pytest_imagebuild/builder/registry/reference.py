"""Image references parsed and normalized the way docker does.

``busybox`` is ``docker.io/library/busybox:latest``; ``host:5000/ns/img:1@sha256:...``
keeps its host, repository, tag and digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pytest_imagebuild.errors import UsageError

__all__ = ["DOCKER_HUB", "Reference"]

DOCKER_HUB = "docker.io"
_LEGACY_HUB = "index.docker.io"
_HUB_ALIASES = frozenset({DOCKER_HUB, _LEGACY_HUB, "registry-1.docker.io"})
_HUB_API_HOST = "registry-1.docker.io"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
_MAX_NAME = 255


def _invalid(text: str, why: str) -> UsageError:
    return UsageError(
        f"invalid image reference {text!r}: {why}",
        hint="use [registry[:port]/]repository[:tag][@sha256:<64 hex>], lowercase repository",
    )


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DOCKER_HUB, name
    else:
        domain, remainder = first, rest
    if domain == _LEGACY_HUB:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def _check_digest(text: str, digest: str) -> None:
    algo, _, hexpart = digest.partition(":")
    want = _DIGEST_LENGTHS.get(algo)
    if want is None:
        raise _invalid(text, f"unsupported digest algorithm {algo!r}")
    if len(hexpart) != want or hexpart.lower() != hexpart:
        raise _invalid(text, f"digest must be {want} lowercase hex characters")


@dataclass(frozen=True)
class Reference:
    """A normalized image reference: ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str, *, default_tag: bool = True) -> Reference:
        """Parse like ``docker pull``; a bare name gets the ``latest`` tag."""
        if not text:
            raise _invalid(text, "repository name must have at least one component")
        if _HEX64.match(text):
            raise _invalid(text, "cannot specify 64-byte hexadecimal strings")
        domain, remainder = _split_domain(text)
        name_part = remainder.split("@", 1)[0]
        if ":" in name_part:
            name_part = name_part.rsplit(":", 1)[0]
        if name_part.lower() != name_part:
            raise _invalid(text, "repository name must be lowercase")
        full = f"{domain}/{remainder}"
        match = _REFERENCE.match(full)
        if match is None:
            if _REFERENCE.match(full.lower()):
                raise _invalid(text, "repository name must be lowercase")
            raise _invalid(text, "invalid reference format")
        name, tag, digest = match.groups()
        if len(name) > _MAX_NAME:
            raise _invalid(text, f"repository name must not be longer than {_MAX_NAME} characters")
        if digest is not None:
            _check_digest(text, digest)
        if tag is None and digest is None and default_tag:
            tag = "latest"
        return cls(registry=domain, repository=remainder_name(name, domain), tag=tag, digest=digest)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What the registry API addresses: the digest when present, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """The host serving the v2 API (Docker Hub's lives on registry-1.docker.io)."""
        return _HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    @property
    def familiar(self) -> str:
        """Docker's short form: ``busybox:latest`` rather than ``docker.io/library/...``."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/")
        return name + self._suffix()

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def with_tag(self, tag: str | None) -> Reference:
        return replace(self, tag=tag)

    def scope(self, actions: str = "pull") -> str:
        """The bearer-token scope for this repository, e.g. ``repository:ns/img:pull``."""
        return f"repository:{self.repository}:{actions}"

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def remainder_name(name: str, domain: str) -> str:
    """The repository part of a matched ``domain/repository`` name."""
    return name[len(domain) + 1 :]


def is_docker_hub(host: str) -> bool:
    """True for any of the names Docker Hub goes by."""
    return host in _HUB_ALIASES
