"""Reference parsing as docker does it, platform choice, challenges, options and credentials."""

from __future__ import annotations

import base64
import json

import pytest

from pytest_imagebuild.builder.registry import (
    Credentials,
    Reference,
    RegistryOptions,
    find_credentials,
    host_platform,
    parse_registry_map,
)
from pytest_imagebuild.builder.registry.auth import parse_challenge
from pytest_imagebuild.builder.registry.options import is_loopback
from pytest_imagebuild.builder.registry.platforms import select_manifest
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.oci import Descriptor, Platform

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "full"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None,
         "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None, None),
        ("library/busybox", "docker.io", "library/busybox", "latest", None, None),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", None, None),
        ("index.docker.io/foo/bar:x", "docker.io", "foo/bar", "x", None, None),
        ("foo/bar/baz", "docker.io", "foo/bar/baz", "latest", None, None),
        ("localhost/img", "localhost", "img", "latest", None, None),
        ("localhost:5000/ns/img:tag", "localhost:5000", "ns/img", "tag", None, None),
        ("127.0.0.1:5000/img", "127.0.0.1:5000", "img", "latest", None, None),
        ("[::1]:5000/img:1", "[::1]:5000", "img", "1", None, None),
        ("Registry.Example.com/ns/img", "Registry.Example.com", "ns/img", "latest", None, None),
        (f"host:5000/ns/img:tag@{D}", "host:5000", "ns/img", "tag", D, f"host:5000/ns/img:tag@{D}"),
        (f"img@{D}", "docker.io", "library/img", None, D, f"docker.io/library/img@{D}"),
        ("a.b/c__d/e-f.g_h:Tag_1.0-x", "a.b", "c__d/e-f.g_h", "Tag_1.0-x", None, None),
    ],
)  # fmt: skip
def test_parse(text, registry, repository, tag, digest, full):
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    if full:
        assert str(ref) == full
    assert Reference.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "at least one component"),
        ("Busybox", "must be lowercase"),
        ("docker.io/Library/busybox", "must be lowercase"),
        ("localhost:5000/NS/img", "must be lowercase"),
        ("a" * 64, "64-byte hexadecimal"),
        ("img:", "invalid reference format"),
        ("img:-tag", "invalid reference format"),
        ("img@sha256:abc", "invalid reference format"),
        (f"img@sha256:{'A' * 64}", "lowercase hex"),
        (f"img@md5:{'a' * 32}", "unsupported digest algorithm"),
        ("ns//img", "invalid reference format"),
        ("img:" + "t" * 129, "invalid reference format"),
        ("host:port/img", "invalid reference format"),
        ("-img", "invalid reference format"),
        ("a/" + "b" * 255, "longer than 255"),
    ],
)
def test_parse_rejects(text, why):
    with pytest.raises(UsageError, match=why):
        Reference.parse(text)


def test_reference_helpers():
    ref = Reference.parse("busybox")
    assert ref.familiar == "busybox:latest"
    assert ref.api_host == "registry-1.docker.io"
    assert ref.scope("pull,push") == "repository:library/busybox:pull,push"
    assert ref.with_digest(D).identifier == D
    assert Reference.parse("img", default_tag=False).tag is None
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("machine", "expected"),
    [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64/v8"), ("armv7l", "linux/arm/v7"),
     ("i686", "linux/386"), ("ppc64le", "linux/ppc64le"), ("s390x", "linux/s390x")],
)  # fmt: skip
def test_host_platform(machine, expected):
    assert str(host_platform(machine)) == expected


def test_select_manifest_prefers_exact_variant():
    def entry(p):
        return Descriptor("m", "sha256:" + str(len(p)) * 64, 1, platform=Platform.parse(p))

    entries = [
        entry("linux/arm/v6"),
        entry("linux/arm/v7"),
        entry("linux/arm64"),
        entry("linux/amd64"),
    ]
    assert select_manifest(entries, Platform.parse("linux/arm/v7")) is entries[1]
    assert select_manifest(entries, Platform.parse("linux/arm")) is entries[1]
    assert select_manifest(entries, Platform.parse("linux/arm64/v8")) is entries[2]
    assert select_manifest(entries, Platform.parse("windows/amd64")) is None


def test_parse_challenge():
    ch = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"'
    )
    assert ch is not None
    assert ch.scheme == "bearer"
    assert (ch.realm, ch.service, ch.scopes) == (
        "https://auth.example/token",
        "reg",
        ("repository:a/b:pull,push",),
    )
    basic = parse_challenge('Basic realm="registry"')
    assert basic is not None
    assert basic.scheme == "basic"
    assert basic.realm == "registry"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("localhost:5000", True), ("127.0.0.1:5000", True), ("127.8.9.1", True),
     ("[::1]:5000", True), ("::1", True), ("10.0.0.1:5000", False), ("example.com", False),
     ("localhost.example.com", False)],
)  # fmt: skip
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback
    assert RegistryOptions().allows_http(host) is loopback


def test_mirrors():
    options = RegistryOptions(
        mirrors=("mirror.example",),
        registry_map=parse_registry_map(
            "index.docker.io=m1.example/hub;gcr.io=m2.example,m3.example"
        ),
    )
    assert options.mirrors_for("docker.io") == ("m1.example/hub", "mirror.example")
    assert options.mirrors_for("gcr.io") == ("m2.example", "m3.example")
    assert options.mirrors_for("quay.io") == ()
    with pytest.raises(UsageError, match="invalid registry map entry"):
        parse_registry_map("nonsense")


def write_config(tmp_path, data):
    (tmp_path / "config.json").write_text(json.dumps(data))
    return RegistryOptions(docker_config=tmp_path, env={})


@pytest.mark.parametrize(
    "key", ["reg.example:5000", "https://reg.example:5000", "http://reg.example:5000/v1/"]
)
def test_credentials_from_auths(tmp_path, key):
    auth = base64.b64encode(b"user:pa:ss").decode()
    options = write_config(tmp_path, {"auths": {key: {"auth": auth}}})
    found = find_credentials("reg.example:5000", options)
    assert found == Credentials("user", "pa:ss", source=str(tmp_path / "config.json"))
    assert find_credentials("other.example", options) is None


def test_docker_hub_credentials_use_the_v1_key(tmp_path):
    options = write_config(
        tmp_path, {"auths": {"https://index.docker.io/v1/": {"username": "u", "password": "p"}}}
    )
    found = find_credentials("docker.io", options)
    assert found is not None
    assert (found.username, found.password) == ("u", "p")


def test_identity_token_and_docker_config_env(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"r.example": {"identitytoken": "s3cr3t-id"}}})
    )
    found = find_credentials("r.example", RegistryOptions(env={"DOCKER_CONFIG": str(tmp_path)}))
    assert found is not None
    assert found.identity_token == "s3cr3t-id"
    assert "s3cr3t" not in repr(found)


def test_gitlab_variables(tmp_path):
    env = {"CI_REGISTRY": "registry.gitlab.example:5050", "CI_REGISTRY_USER": "gitlab-ci-token",
           "CI_REGISTRY_PASSWORD": "job-token"}  # fmt: skip
    options = RegistryOptions(docker_config=tmp_path, env=env)
    found = find_credentials("registry.gitlab.example:5050", options)
    assert found is not None
    assert found.password == "job-token"
    assert find_credentials("docker.io", options) is None


def test_broken_docker_config_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read docker config"):
        find_credentials("x.example", RegistryOptions(docker_config=tmp_path, env={}))
