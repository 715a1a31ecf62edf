"""The docker daemon that testcontainers finds, for the ``[docker]`` extra.

Both the container fixtures and the docker executor reach the daemon through here:
testcontainers' own ``DockerClient`` decides where the daemon is (``DOCKER_HOST``, its
``~/.testcontainers.properties``, the docker context), and one ``ping`` with a short timeout
proves it answers before anything waits on it. Without the extra, or without a daemon, the
error says what to install or which address was tried, and comes at once.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from typing import TYPE_CHECKING

from pytest_imagebuild.errors import DockerError

if TYPE_CHECKING:
    import docker
    from testcontainers.core.docker_client import DockerClient

__all__ = ["EXTRA_HINT", "PING_TIMEOUT", "connect", "daemon_address"]

EXTRA_HINT = "pip install 'pytest-imagebuild[docker]'"
PING_TIMEOUT = 10.0
"""Seconds the first request may take before the daemon counts as not answering."""
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def daemon_address() -> str:
    """Where the daemon is looked for, for messages: what testcontainers picks
    (``DOCKER_HOST``, its properties file, the docker context), else the default socket."""
    try:
        from testcontainers.core.docker_client import get_docker_host

        found = get_docker_host()
    except ImportError:
        found = os.environ.get("DOCKER_HOST")
    return found or f"{DEFAULT_SOCKET} (DOCKER_HOST is not set)"


def _client_class() -> type[DockerClient]:
    """testcontainers' client, or the error that says how to install the extra."""
    __tracebackhide__ = True
    try:
        from testcontainers.core.docker_client import DockerClient
    except ImportError as exc:
        raise DockerError(
            "starting containers and building with docker need testcontainers, which "
            f"cannot be imported here ({exc.name or exc})",
            hint=EXTRA_HINT,
        ) from None
    return DockerClient


def connect(timeout: float = 120.0) -> docker.DockerClient:
    """A docker SDK client whose daemon answered a ping; ``timeout`` bounds every later
    request (a load, a save, a build's silence)."""
    __tracebackhide__ = True
    client_class = _client_class()
    _probe(daemon_address())
    try:
        # the SDK asks the daemon for its API version in the constructor: that is the ping
        client = client_class(timeout=PING_TIMEOUT).client
    except Exception as exc:  # docker.errors.DockerException and its transport errors
        raise _unreachable(exc) from None
    try:
        client.ping()
    except Exception as exc:  # connection refused, no such socket, timeout
        client.close()
        raise _unreachable(exc) from None
    client.api.timeout = int(timeout)
    return client


def _probe(address: str) -> None:
    """Connect to a unix or tcp address and close again: a missing socket or a refused port
    is said here, before the SDK leaves a half-open connection behind."""
    __tracebackhide__ = True
    url = urllib.parse.urlsplit(address.split(" ")[0])
    try:
        if url.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(PING_TIMEOUT)
                sock.connect(url.path)
        elif url.scheme in ("tcp", "http", "https") and url.hostname:
            port = url.port or (2376 if url.scheme == "https" else 2375)
            with socket.create_connection((url.hostname, port), timeout=PING_TIMEOUT):
                pass
    except OSError as exc:
        raise _unreachable(exc) from None


def _unreachable(exc: BaseException) -> DockerError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DockerError(
        f"no docker daemon answers at {daemon_address()}: {reason[:300]}",
        hint="start dockerd, or set DOCKER_HOST to a daemon that answers "
        "(tcp://host:2375, unix:///path/docker.sock)",
    )
