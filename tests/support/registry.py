"""The ``registry`` fixture: Debian's docker-registry on 127.0.0.1, one per call.

    def test_x(registry):
        reg = registry()                      # anonymous, plain HTTP
        reg = registry(auth="basic")          # htpasswd (bcrypt) users
        reg = registry(auth="token", tls=True)  # token server + self-signed CA

Each running registry has ``host``, ``url``, ``username``/``password`` (None when anonymous),
``ca_path`` (None without TLS), ``docker_config_dir`` (config.json with its credentials),
``storage`` and ``blob_data_path(digest)`` to reach the stored files, and ``options()`` for
the builder's client.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_imagebuild.builder.registry import RegistryOptions
from tests.support.registry_token import ISSUER, SERVICE, TokenServer, make_signing_cert

REGISTRY_BINARY = "/usr/bin/docker-registry"
USERNAME = "imagebuild"
PASSWORD = "registry-secret-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} failed:\n{proc.stderr}", pytrace=False)


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1/localhost: (ca, cert, key)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "3",
             "-subj", "/CN=imagebuild test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "3", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


def make_client_cert(directory: Path) -> tuple[Path, Path]:
    """A client certificate signed by ``make_tls``'s CA in ``directory``: (cert, key)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "client.key", directory / "client.csr", directory / "client.pem"
    ext = directory / "client.ext"
    ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=imagebuild client")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "3", "-extfile", str(ext))  # fmt: skip
    return cert, key


def _htpasswd(path: Path, username: str, password: str) -> None:
    if shutil.which("htpasswd") is None:
        pytest.fail("htpasswd is missing: install apache2-utils (scripts/setup)", pytrace=False)
    proc = subprocess.run(
        ["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True
    )
    path.write_text(proc.stdout)


@dataclass
class RunningRegistry:
    """One docker-registry process and what a client needs to reach it."""

    host: str
    url: str
    root: Path
    storage: Path
    log_path: Path
    docker_config_dir: Path
    auth: str = "none"
    username: str | None = None
    password: str | None = None
    ca_path: Path | None = None
    client_cert: tuple[Path, Path] | None = None  # set when the registry requires one
    process: subprocess.Popen[bytes] | None = None
    token_server: TokenServer | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def blob_data_path(self, digest: str) -> Path:
        """The file docker-registry keeps a blob in (to inspect or tamper with it)."""
        hexpart = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def options(self, **overrides: Any) -> RegistryOptions:
        """Client options: this registry's CA and docker config, quick retries."""
        values: dict[str, Any] = {
            "docker_config": self.docker_config_dir,
            "certificates": {self.host: self.ca_path} if self.ca_path else {},
            "retries": 1,
            "backoff": 0.1,
            "env": {},
        }
        values.update(overrides)
        return RegistryOptions(**values)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None


class RegistryFactory:
    """Starts registries under ``base``; ``stop_all`` ends every one it started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.running: list[RunningRegistry] = []

    def __call__(
        self,
        *,
        auth: str = "none",
        tls: bool = False,
        port: int | None = None,
        client_certs: bool = False,
    ) -> RunningRegistry:
        """A registry; ``client_certs`` (with ``tls``) requires a client certificate signed
        by its CA (``reg.client_cert``)."""
        if auth not in ("none", "basic", "token"):
            raise ValueError(f"auth must be none, basic or token, not {auth!r}")
        root = self.base / f"registry{len(self.running)}"
        root.mkdir(parents=True)
        port = port or free_port()
        host = f"127.0.0.1:{port}"
        reg = RunningRegistry(
            host=host, url=f"{'https' if tls else 'http'}://{host}", root=root,
            storage=root / "storage", log_path=root / "registry.log",
            docker_config_dir=root / "docker", auth=auth,
        )  # fmt: skip
        http: dict[str, Any] = {"addr": host, "secret": "imagebuild-test-secret"}
        if tls:
            reg.ca_path, cert, key = make_tls(root)
            http["tls"] = {"certificate": str(cert), "key": str(key)}
            if client_certs:
                reg.client_cert = make_client_cert(root)
                http["tls"]["clientcas"] = [str(reg.ca_path)]
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(reg.storage)},
                        "delete": {"enabled": True}},
            "http": http,
        }  # fmt: skip
        if auth != "none":
            reg.username, reg.password = USERNAME, PASSWORD
        if auth == "basic":
            _htpasswd(root / "htpasswd", USERNAME, PASSWORD)
            config["auth"] = {"htpasswd": {"realm": "imagebuild", "path": str(root / "htpasswd")}}
        elif auth == "token":
            sign_key, sign_cert = make_signing_cert(root)
            reg.token_server = TokenServer(sign_key, sign_cert, USERNAME, PASSWORD)
            config["auth"] = {"token": {
                "realm": reg.token_server.realm, "service": SERVICE, "issuer": ISSUER,
                "rootcertbundle": str(sign_cert),
            }}  # fmt: skip
        self._write_docker_config(reg)
        (root / "config.yml").write_text(json.dumps(config, indent=2))
        self.running.append(reg)
        with reg.log_path.open("wb") as log:
            reg.process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(root / "config.yml")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=root,
            )  # fmt: skip
        self._wait_ready(reg)
        return reg

    @staticmethod
    def _write_docker_config(reg: RunningRegistry) -> None:
        reg.docker_config_dir.mkdir()
        auths: dict[str, Any] = {}
        if reg.username and reg.password:
            token = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
            auths[reg.host] = {"auth": token}
        (reg.docker_config_dir / "config.json").write_text(json.dumps({"auths": auths}))

    @staticmethod
    def _wait_ready(reg: RunningRegistry) -> None:
        verify: Any = ssl.create_default_context(cafile=str(reg.ca_path)) if reg.ca_path else True
        if reg.client_cert is not None:
            verify.load_cert_chain(*map(str, reg.client_cert))
        deadline = time.monotonic() + 20
        last = ""
        while time.monotonic() < deadline:
            if reg.process is not None and reg.process.poll() is not None:
                pytest.fail(
                    f"docker-registry exited with {reg.process.returncode}:\n{reg.log()}",
                    pytrace=False,
                )
            try:
                resp = httpx.get(f"{reg.url}/v2/", verify=verify, timeout=2)
                if resp.status_code in (200, 401):
                    return
                last = f"status {resp.status_code}"
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.05)
        reg.stop()
        message = f"docker-registry on {reg.host} not ready ({last}):\n{reg.log()}"
        pytest.fail(message, pytrace=False)

    def stop_all(self) -> None:
        for reg in self.running:
            reg.stop()


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFactory]:
    """Factory: ``registry(auth="none"|"basic"|"token", tls=False, port=None)``."""
    if not Path(REGISTRY_BINARY).exists():
        pytest.fail(f"{REGISTRY_BINARY} is missing: apt-get install docker-registry", pytrace=False)
    factory = RegistryFactory(tmp_path_factory.mktemp("registry"))
    try:
        yield factory
    finally:
        factory.stop_all()
