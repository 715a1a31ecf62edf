"""Bases that are not there: a registry answering 404, a registry nobody listens on, a
reference that does not parse, a later stage's name (an image, as in docker). Each is the
project's error at the FROM line with a hint, fast, with nothing left behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.hostile.harness import assert_located_error, attempt
from tests.support.registry import RegistryFactory


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def reachable(registry: RegistryFactory) -> str:
    return registry().host


def test_a_missing_image_in_a_live_registry(space: Path, user: str, reachable: str) -> None:
    context = space / "context"
    context.mkdir()
    outcome = attempt(
        context,
        f"FROM {reachable}/no/such-image:1\nCOPY Dockerfile /\n",
        space / "work",
        user,
        options={"insecure_registries": [reachable]},
    )
    assert_located_error(outcome, "no/such-image")
    assert outcome.location is not None
    assert outcome.location.endswith(":1")
    assert outcome.hint


@pytest.mark.parametrize("user", ["root"])  # the registry client does not depend on the user
def test_an_unreachable_registry(space: Path, user: str) -> None:
    host = f"127.0.0.1:{closed_port()}"
    context = space / "context"
    context.mkdir()
    outcome = attempt(
        context,
        f"FROM {host}/base:1\n",
        space / "work",
        user,
        options={"insecure_registries": [host], "pull_retries": 0},
    )
    assert_located_error(outcome, host)
    assert outcome.hint


@pytest.mark.parametrize(
    "reference", ["Upper/Case:1", "a:b:c", "base@sha256:1234", "base:tag with space", "-x"]
)
@pytest.mark.parametrize("user", ["root"])  # parsing does not depend on the user
def test_a_bad_reference(space: Path, user: str, reference: str) -> None:
    context = space / "context"
    context.mkdir()
    outcome = attempt(context, f"FROM {reference}\n", space / "work", user)
    assert_located_error(outcome)
    assert outcome.location is not None
    assert outcome.location.endswith(":1")
