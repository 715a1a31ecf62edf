"""TLS registries: trusted CA, SSL_CERT_DIR, skip-verify, untrusted, and plain-HTTP mixups."""

from __future__ import annotations

import shutil

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.registry import Registries, pull_image, push_image
from pytest_imagebuild.errors import RegistryError
from tests.support.registry_images import add_image


def seed(reg, tmp_path, **opts):
    store = BlobStore(tmp_path / "seed")
    data, kind = add_image(store, [{"etc/hostname": b"tls\n"}])
    with Registries(reg.options(**opts)) as registries:
        return push_image(f"{reg.host}/secure/app:1", store, data, kind, registries=registries)


def test_push_then_pull_tls_with_token_auth(registry, tmp_path):
    reg = registry(auth="token", tls=True)
    digest = seed(reg, tmp_path)
    with Registries(reg.options()) as registries:
        pulled = pull_image(
            f"{reg.host}/secure/app:1", BlobStore(tmp_path / "s"), registries=registries
        )
        assert registries.client(reg.host).base_url == f"https://{reg.host}"
    assert pulled.manifest_digest == digest


def test_push_to_tls_basic_auth_registry(registry, tmp_path):
    reg = registry(auth="basic", tls=True)
    assert seed(reg, tmp_path).startswith("sha256:")


def test_ca_from_ssl_cert_dir(registry, tmp_path):
    reg = registry(tls=True)
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(reg.ca_path, certs / "test-ca.crt")
    assert seed(reg, tmp_path, certificates={}, env={"SSL_CERT_DIR": str(certs)})


def test_skip_tls_verify(registry, tmp_path):
    reg = registry(tls=True)
    assert seed(reg, tmp_path, certificates={}, skip_tls_verify=True)
    assert seed(reg, tmp_path, certificates={}, skip_tls_verify_registries=frozenset({reg.host}))


def test_untrusted_certificate_is_a_clear_error(registry, tmp_path):
    reg = registry(tls=True)
    with pytest.raises(RegistryError) as info:
        seed(reg, tmp_path, certificates={})
    text = str(info.value)
    assert f"TLS certificate of registry {reg.host} is not trusted" in text
    assert f"--registry-certificate {reg.host}=" in text


def test_insecure_registry_falls_back_to_http(registry, tmp_path):
    reg = registry()
    seed(reg, tmp_path)
    options = reg.options(insecure_registries=frozenset({reg.host}))
    with Registries(options) as registries:
        pull_image(f"{reg.host}/secure/app:1", BlobStore(tmp_path / "s"), registries=registries)
        assert registries.client(reg.host).base_url == f"http://{reg.host}"
