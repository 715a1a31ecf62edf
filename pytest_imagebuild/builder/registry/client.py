"""One registry's v2 API over httpx: scheme detection, auth, retries and error messages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from pytest_imagebuild.errors import RegistryError

from .auth import Challenge, auth_failure, basic_header, fetch_token, parse_challenge
from .credentials import Credentials, find_credentials
from .options import RegistryOptions
from .reference import DOCKER_HUB
from .retry import RETRY_STATUS, Backoff

__all__ = ["RegistryClient"]

logger = logging.getLogger("pytest_imagebuild.builder.registry")

_PLAIN_HTTP_HINT = (
    "is the registry running? for plain HTTP use --insecure-pull (pulls), --insecure "
    "(pushes) or --insecure-registry HOST"
)
# A body that can be sent again: bytes, or a function giving a fresh stream for each try.
Body = bytes | Callable[[], Iterable[bytes]] | None


def _shown(url: httpx.URL) -> str:
    """``url`` for the debug log: no user info, no query (it may carry a token)."""
    return str(url.copy_with(username=None, password=None, query=None))


def operation_of(method: str, url: str) -> tuple[str | None, str]:
    """(repository, ``METHOD kind``) from a v2 API URL, for error reports."""
    path = httpx.URL(url).path
    rest = path.split("/v2/", 1)[1] if "/v2/" in path else ""
    for marker, kind in (("/blobs/uploads", "blob upload"), ("/manifests/", "manifest"),
                         ("/blobs/", "blob"), ("/tags/", "tag list")):  # fmt: skip
        if marker in "/" + rest:
            return rest.split(marker, 1)[0].strip("/") or None, f"{method} {kind}"
    return None, f"{method} {'ping' if not rest else path}"


def _is_tls_verify_error(exc: Exception) -> bool:
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _is_tls_protocol_error(exc: Exception) -> bool:
    text = str(exc)
    if not isinstance(exc, httpx.ConnectError) or _is_tls_verify_error(exc):
        return False
    return "SSL" in text or "record layer" in text


class RegistryClient:
    """Talks to one registry, named as in Reference.registry (``docker.io``, ``host:port``)."""

    def __init__(
        self,
        registry: str,
        options: RegistryOptions | None = None,
        *,
        credentials: Credentials | None = None,
        lookup_credentials: bool = True,
    ) -> None:
        self.registry = registry
        self.options = options or RegistryOptions()
        self.host = "registry-1.docker.io" if registry == DOCKER_HUB else registry
        self._credentials = credentials
        self._lookup = credentials is None and lookup_credentials
        self._lookup_lock = threading.Lock()  # pushes run in threads that share this client
        self._config_path = str(self.options.docker_config_dir() / "config.json")
        self._http = httpx.Client(
            verify=self.options.ssl_context(self.host),
            timeout=httpx.Timeout(self.options.timeout, connect=min(10.0, self.options.timeout)),
            follow_redirects=True,
            headers={"User-Agent": self.options.user_agent},
        )
        self._base: str | None = None
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], str] = {}
        self.backoff = Backoff(self.options)

    @property
    def credentials(self) -> Credentials | None:
        """Found on first need (a challenge), so anonymous registries never run a helper."""
        with self._lookup_lock:
            if self._lookup:
                self._credentials = find_credentials(self.registry, self.options)
                self._lookup = False
        return self._credentials

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def base_url(self) -> str:
        """``https://host`` or ``http://host``, decided by the first ping."""
        if self._base is None:
            self.ping()
        return self._base or f"https://{self.host}"

    def ping(self, what: str = "") -> None:
        """GET /v2/: pick the scheme (HTTPS, then plain HTTP where allowed) and the challenge."""
        what = what or self.registry
        schemes = ("https", "http") if self.options.allows_http(self.host) else ("https",)
        for scheme in schemes:
            try:
                resp = self._send("GET", f"{scheme}://{self.host}/v2/", what=what, headers={})
            except RegistryError as exc:
                cause = exc.__cause__
                fallback = scheme == "https" and len(schemes) > 1
                if fallback and isinstance(cause, Exception) and _is_tls_protocol_error(cause):
                    continue
                raise
            self._base = f"{scheme}://{self.host}"
            if resp.status_code == 401:
                self._challenge = parse_challenge(resp.headers.get("www-authenticate", ""))
            elif resp.status_code == 400 and "HTTPS server" in resp.text:
                raise RegistryError(
                    f"registry {self.host} speaks TLS but was reached over plain HTTP ({what})",
                    hint="drop --insecure for it and trust its CA with --registry-certificate",
                )
            elif resp.status_code not in (200, 404):
                raise self.status_error(resp, what)
            return

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        scopes: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: Body = None,
        stream: bool = False,
        retry: bool = True,
        ok: Sequence[int] = (200,),
    ) -> httpx.Response:
        """Send with authentication; a status outside ``ok`` raises a RegistryError."""
        url = path if "://" in path else self.base_url + path
        try:
            return self._request(
                method, url, what=what, scopes=scopes, headers=headers, params=params,
                content=content, stream=stream, retry=retry, ok=ok,
            )  # fmt: skip
        except RegistryError as exc:
            repository, operation = operation_of(method, url)
            exc.registry = exc.registry or self.registry
            exc.repository = exc.repository or repository
            exc.operation = exc.operation or operation
            raise

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        scopes: Sequence[str],
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        content: Body,
        stream: bool,
        retry: bool,
        ok: Sequence[int],
    ) -> httpx.Response:
        for attempt in (0, 1):
            hdrs = dict(headers or {})
            auth = self._authorization(scopes, what)
            if auth:
                hdrs["Authorization"] = auth
            resp = self._send(
                method,
                url,
                what=what,
                headers=hdrs,
                params=params,
                content=content,
                stream=stream,
                retry=retry,
            )
            renewed = self._renew(resp, scopes) if resp.status_code == 401 else None
            if renewed is None or attempt == 1:
                break
            resp.close()
            scopes = renewed
        if resp.status_code not in ok:
            resp.read()
            resp.close()
            raise self.status_error(resp, what)
        return resp

    def _authorization(self, scopes: Sequence[str], what: str) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self.credentials is None or not self.credentials.username:
                raise auth_failure(self.registry, what, self.credentials, self._config_path)
            return basic_header(self.credentials)
        key = tuple(sorted(scopes))
        if key not in self._tokens:
            self._tokens[key] = fetch_token(
                self._http,
                challenge,
                key,
                self.credentials,
                registry=self.registry,
                what=what,
                config_path=self._config_path,
            )
        return "Bearer " + self._tokens[key]

    def _renew(self, resp: httpx.Response, scopes: Sequence[str]) -> list[str] | None:
        """After a 401: the scopes to retry with once (adding the challenge's), or None."""
        challenge = parse_challenge(resp.headers.get("www-authenticate", ""))
        if challenge is None:
            return None
        if self._challenge is None or challenge.scheme != self._challenge.scheme:
            self._challenge = challenge
            return [*scopes, *(s for s in challenge.scopes if s not in scopes)]
        if challenge.scheme != "bearer":
            return None
        wider = [*scopes, *(s for s in challenge.scopes if s not in scopes)]
        if wider != list(scopes):
            return wider
        return list(scopes) if self._tokens.pop(tuple(sorted(scopes)), None) else None

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str],
        params: Mapping[str, str] | None = None,
        content: Body = None,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        attempts = 1 + (self.options.retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            retry_after: str | None = None
            body = content() if callable(content) else content
            try:
                req = self._http.build_request(
                    method, url, headers=headers, params=params, content=body
                )
                resp = self._http.send(req, stream=stream)
            except httpx.TransportError as exc:
                logger.debug("registry: %s %s: %s", method, _shown(req.url), exc)
                if last or _is_tls_verify_error(exc) or _is_tls_protocol_error(exc):
                    raise self.transport_error(exc, what, tries=attempt + 1) from exc
            else:
                logger.debug("registry: %s %s -> %d", method, _shown(req.url), resp.status_code)
                if resp.status_code not in RETRY_STATUS or last:
                    return resp
                retry_after = resp.headers.get("retry-after")
                resp.close()
            self.backoff.wait(attempt, retry_after)
        raise RegistryError(f"no answer from registry {self.registry} for {what}")

    def transport_error(self, exc: Exception, what: str, tries: int = 1) -> RegistryError:
        if _is_tls_verify_error(exc):
            return RegistryError(
                f"TLS certificate of registry {self.host} is not trusted ({what}): {exc}",
                hint=f"pass its CA with --registry-certificate {self.host}=/path/ca.pem or put "
                "it in SSL_CERT_DIR; --skip-tls-verify-pull/--skip-tls-verify-registry skip it",
            )
        if _is_tls_protocol_error(exc):
            return RegistryError(
                f"registry {self.host} does not speak TLS ({what}): {exc}",
                hint="for a plain-HTTP registry use --insecure-registry "
                f"{self.host} (or --insecure-pull / --insecure)",
            )
        if isinstance(exc, httpx.ConnectError):
            return RegistryError(
                f"cannot reach registry {self.host} for {what}: {exc}", hint=_PLAIN_HTTP_HINT
            )
        kind = f"no byte for {self.options.timeout:g}s (read timeout)"
        if not isinstance(exc, httpx.TimeoutException):
            kind = f"{type(exc).__name__}: {exc or 'connection broken'}"
        return RegistryError(
            f"network error talking to registry {self.host} for {what}: {kind}"
            + (f" ({tries} tries)" if tries > 1 else ""),
            hint="the connection broke or stalled; check the registry and the network between",
            registry=self.registry,
        )

    def status_error(self, resp: httpx.Response, what: str) -> RegistryError:
        """The error for an unexpected status, carrying that status."""
        err = self._status_error(resp, what)
        err.registry, err.status = self.registry, resp.status_code
        return err

    def _status_error(self, resp: httpx.Response, what: str) -> RegistryError:
        status, code, message = resp.status_code, "", ""
        try:
            errors: list[dict[str, Any]] = resp.json().get("errors") or []
            code, message = str(errors[0].get("code", "")), str(errors[0].get("message", ""))
        except (ValueError, AttributeError, IndexError, httpx.ResponseNotRead):
            message = ""
        if status == 401:
            return auth_failure(self.registry, what, self.credentials, self._config_path)
        if status == 403:
            return RegistryError(
                f"registry {self.registry} denied access to {what} ({code or 'DENIED'})",
                hint="the credentials lack permission for this repository and action",
            )
        if status == 404 and code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", ""):
            return RegistryError(
                f"manifest unknown: {what} does not exist in registry {self.registry}",
                hint="check the repository, tag or digest (was the image pushed?)",
            )
        detail = f" {code}: {message}" if code else ""
        hint = None
        if status in RETRY_STATUS:
            hint = "the registry is failing or throttling; it was retried with backoff"
        return RegistryError(
            f"registry {self.registry} answered {status}{detail} for {what}",
            hint=hint,
            registry=self.registry,
            status=status,
        )
