"""Authentication against real registries: htpasswd, token server, helpers, GitLab vars."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.registry import (
    Registries,
    check_push_permission,
    pull_image,
    push_image,
)
from pytest_imagebuild.errors import RegistryError
from tests.support.registry import RunningRegistry
from tests.support.registry_images import add_image


def push_small(reg: RunningRegistry, tmp_path: Path, name: str = "private/app:1", **opts) -> str:
    store = BlobStore(tmp_path / "seed")
    data, kind = add_image(store, [{"app/run": b"#!/bin/sh\necho hi\n"}])
    with Registries(reg.options(**opts)) as registries:
        return push_image(f"{reg.host}/{name}", store, data, kind, registries=registries)


def empty_config(tmp_path: Path) -> Path:
    directory = tmp_path / "empty-docker"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text('{"auths": {}}')
    return directory


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_pull_with_credentials_from_docker_config(registry, tmp_path, auth):
    reg = registry(auth=auth)
    digest = push_small(reg, tmp_path)
    with Registries(reg.options()) as registries:
        pulled = pull_image(
            f"{reg.host}/private/app:1", BlobStore(tmp_path / "s"), registries=registries
        )
    assert pulled.manifest_digest == digest
    if auth == "token":
        assert reg.token_server is not None
        assert any(
            "scope=repository%3Aprivate%2Fapp%3Apull" in r for r in reg.token_server.requests
        )


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_no_credentials_is_a_clear_401(registry, tmp_path, auth):
    reg = registry(auth=auth)
    config_dir = empty_config(tmp_path)
    registries = Registries(reg.options(docker_config=config_dir))
    with registries, pytest.raises(RegistryError) as info:
        pull_image(f"{reg.host}/private/app:1", BlobStore(tmp_path / "s"), registries=registries)
    text = str(info.value)
    assert f"registry {reg.host} requires authentication for {reg.host}/private/app:1" in text
    assert f"no credentials for {reg.host} in {config_dir / 'config.json'}" in text
    assert "docker login" in text


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_wrong_password_is_rejected(registry, tmp_path, auth):
    reg = registry(auth=auth)
    config_dir = tmp_path / "bad"
    config_dir.mkdir()
    wrong = base64.b64encode(f"{reg.username}:wrong".encode()).decode()
    (config_dir / "config.json").write_text(
        json.dumps({"auths": {f"https://{reg.host}": {"auth": wrong}}})
    )
    registries = Registries(reg.options(docker_config=config_dir))
    rejected = f"registry {reg.host} rejected the credentials"
    with registries, pytest.raises(RegistryError, match=rejected):
        pull_image(f"{reg.host}/private/app:1", BlobStore(tmp_path / "s"), registries=registries)


def test_docker_config_from_environment(registry, tmp_path):
    reg = registry(auth="basic")
    digest = push_small(
        reg, tmp_path, env={"DOCKER_CONFIG": str(reg.docker_config_dir)}, docker_config=None
    )
    assert digest.startswith("sha256:")


def test_username_password_entry(registry, tmp_path):
    reg = registry(auth="basic")
    config_dir = tmp_path / "plain"
    config_dir.mkdir()
    entry = {"username": reg.username, "password": reg.password}
    (config_dir / "config.json").write_text(
        json.dumps({"auths": {f"http://{reg.host}/v2/": entry}})
    )
    assert push_small(reg, tmp_path, docker_config=config_dir).startswith("sha256:")


def write_helper(directory: Path, name: str, reg: RunningRegistry) -> Path:
    """A docker-credential-<name> script answering ``get`` for ``reg`` only."""
    directory.mkdir(exist_ok=True)
    script = directory / f"docker-credential-{name}"
    answer = json.dumps({"ServerURL": reg.host, "Username": reg.username, "Secret": reg.password})
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        "read server\n"
        f'if [ "$server" = "{reg.host}" ]; then echo \'{answer}\'; exit 0; fi\n'
        'echo "credentials not found in native keychain"; exit 1\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return directory


@pytest.mark.parametrize("key", ["credHelpers", "credsStore"])
def test_credential_helper(registry, tmp_path, monkeypatch, key):
    reg = registry(auth="token")
    bindir = write_helper(tmp_path / "bin", "imagebuildtest", reg)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    config_dir = tmp_path / "helper"
    config_dir.mkdir()
    value = {reg.host: "imagebuildtest"} if key == "credHelpers" else "imagebuildtest"
    (config_dir / "config.json").write_text(json.dumps({key: value}))
    assert push_small(reg, tmp_path, docker_config=config_dir).startswith("sha256:")


def test_gitlab_ci_variables(registry, tmp_path):
    reg = registry(auth="basic")
    env = {
        "CI_REGISTRY": reg.host,
        "CI_REGISTRY_USER": reg.username,
        "CI_REGISTRY_PASSWORD": reg.password,
    }
    digest = push_small(reg, tmp_path, docker_config=empty_config(tmp_path), env=env)
    assert digest.startswith("sha256:")


def test_push_permission_check(registry, tmp_path):
    reg = registry(auth="token")
    with Registries(reg.options()) as registries:
        check_push_permission(f"{reg.host}/private/app:1", registries=registries)
    registries = Registries(reg.options(docker_config=empty_config(tmp_path)))
    with registries, pytest.raises(RegistryError, match="requires authentication") as info:
        check_push_permission(f"{reg.host}/private/app:1", registries=registries)
    assert "push to" in str(info.value)


def test_anonymous_registry_never_runs_a_helper(registry, tmp_path):
    reg = registry()
    config_dir = tmp_path / "desktop"
    config_dir.mkdir()
    (config_dir / "config.json").write_text('{"credsStore": "not-installed-anywhere"}')
    assert push_small(reg, tmp_path, docker_config=config_dir).startswith("sha256:")


def test_missing_helper_is_named(registry, tmp_path):
    reg = registry(auth="basic")
    config_dir = tmp_path / "desktop"
    config_dir.mkdir()
    (config_dir / "config.json").write_text('{"credsStore": "not-installed-anywhere"}')
    with pytest.raises(RegistryError, match="docker-credential-not-installed-anywhere"):
        push_small(reg, tmp_path, docker_config=config_dir)
