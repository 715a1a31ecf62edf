"""ADD from an http(s) URL: download into the build directory, verify ``--checksum``."""

from __future__ import annotations

import email.message
import email.utils
import hashlib
import posixpath
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

from .base import Where
from .srchash import entry_hasher

__all__ = ["UNNAMED", "Fetched", "download_name", "fetch_url", "url_hash"]

UNNAMED = "__unnamed__"


@dataclass(frozen=True)
class Fetched:
    path: Path
    name: str
    mtime_ns: int
    history_hash: str


def _safe_name(name: str | None) -> str | None:
    """``name`` when it can only name a file in the destination directory, else None."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        return None
    return name


def download_name(url: str, disposition: str | None) -> str:
    """The file name docker gives a download: the URL path's last part, else the
    ``Content-Disposition`` filename, else ``__unnamed__``; a name that could leave the
    destination directory (``..``, ``.``, a ``/`` or NUL in it) counts as no name."""
    path = urllib.parse.urlparse(url).path
    if path and not path.endswith("/"):
        name = _safe_name(posixpath.basename(path))
        if name:
            return name
    if disposition:
        message = email.message.Message()
        message["Content-Disposition"] = disposition
        param = message.get_param("filename", header="Content-Disposition")
        filename = param if isinstance(param, str) else None
        if filename and not filename.endswith("/"):
            name = _safe_name(posixpath.basename(filename))
            if name:
                return name
    return UNNAMED


def url_hash(name: str, path: Path) -> str:
    """Docker's history hash of a download: tarsum v1 of the daemon's own 0600 root file.

    Unlike context sources it has no ``file:`` prefix, its mode keeps the file type bits
    and the owner names come from the daemon's user database (uid 0 is ``root``).
    """
    digest = entry_hasher(
        name, 0o100600, 0, 0, path.stat().st_size, owner_name="root", type_bits=True
    )
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_url(url: str, download_dir: Path, checksum: str | None, where: Where) -> Fetched:
    """GET ``url`` (following redirects) to a file named as docker names downloads."""
    download_dir.mkdir(parents=True, exist_ok=True)
    target = download_dir / hashlib.sha256(url.encode()).hexdigest()
    sha = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            if response.status_code >= 400:
                raise where.error(f"failed to GET {url} with status {response.status_code}")
            modified = response.headers.get("Last-Modified")
            name = download_name(url, response.headers.get("Content-Disposition"))
            with target.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    sha.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise where.error(f"cannot download {url}: {exc}") from exc
    if checksum:
        algo, _, expected = checksum.partition(":")
        if algo != "sha256" or not expected:
            raise where.error(f"unsupported --checksum {checksum!r}", hint="use sha256:<hex>")
        if sha.hexdigest() != expected.lower():
            raise where.error(
                f"checksum mismatch for {url}: expected {checksum}, got sha256:{sha.hexdigest()}"
            )
    mtime_ns = time.time_ns()
    if modified:
        try:
            parsed = email.utils.parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            mtime_ns = int(parsed.timestamp()) * 1_000_000_000
    return Fetched(target, name, mtime_ns, url_hash(name, target))
