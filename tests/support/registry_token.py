"""A tiny token server for docker-registry's ``auth: token`` mode (docker's token protocol).

It checks HTTP basic credentials and answers with an RS256 JWT signed by ``openssl``; the
signing certificate rides in the ``x5c`` header and is the registry's ``rootcertbundle``.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ISSUER = "imagebuild-test-issuer"
SERVICE = "imagebuild-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_signing_cert(directory: Path) -> tuple[Path, Path]:
    """An RSA key and self-signed certificate for token signing: (key, cert)."""
    key, cert = directory / "token.key", directory / "token.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=imagebuild test token signer"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


class TokenServer:
    """Serves ``GET /token?service=..&scope=..`` on 127.0.0.1 in a thread."""

    def __init__(self, key: Path, cert: Path, username: str, password: str) -> None:
        self.key, self.username, self.password = key, username, password
        pem = cert.read_text().split("-----")[2]
        self._x5c = "".join(pem.split())
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _authorized(self, header: str) -> str | None:
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if (user, password) == (self.username, self.password) else None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        self.requests.append(request.path)
        query = parse_qs(urlparse(request.path).query)
        user = self._authorized(request.headers.get("Authorization", ""))
        if user is None:
            self._reply(request, 401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self.sign(user, query.get("service", [SERVICE])[0], access)
        self._reply(request, 200, {"token": token, "access_token": token, "expires_in": 300})

    def sign(self, user: str, service: str, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": ISSUER, "sub": user, "aud": service, "exp": now + 600, "nbf": now - 60,
            "iat": now - 60, "jti": secrets.token_hex(8), "access": access,
        }  # fmt: skip
        signing_input = ".".join(_b64url(json.dumps(p).encode()) for p in (header, claims))
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
