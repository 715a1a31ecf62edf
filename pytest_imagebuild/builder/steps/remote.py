"""ADD from an http(s) URL: download into the build directory, verify ``--checksum``."""

from __future__ import annotations

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

__all__ = ["Fetched", "fetch_url"]


@dataclass(frozen=True)
class Fetched:
    path: Path
    name: str
    mtime_ns: int
    history_hash: str


def fetch_url(url: str, download_dir: Path, checksum: str | None, where: Where) -> Fetched:
    """GET ``url`` (following redirects) to a file; the name is the URL path's last part."""
    name = posixpath.basename(urllib.parse.urlparse(url).path.rstrip("/")) or "__unnamed__"
    download_dir.mkdir(parents=True, exist_ok=True)
    target = download_dir / hashlib.sha256(url.encode()).hexdigest()
    sha = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            if response.status_code >= 400:
                raise where.error(f"failed to GET {url} with status {response.status_code}")
            modified = response.headers.get("Last-Modified")
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
        parsed = email.utils.parsedate_to_datetime(modified)
        mtime_ns = int(parsed.timestamp()) * 1_000_000_000
    size = target.stat().st_size
    digest = entry_hasher(name, 0o100600, 0, 0, size)
    with target.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return Fetched(target, name, mtime_ns, "file:" + digest.hexdigest())
