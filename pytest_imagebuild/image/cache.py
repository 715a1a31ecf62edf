"""On-disk cache of layer indexes, keyed by the layer's blob digest.

Each file holds a ``marshal`` dump of plain tuples; it is written under a temporary
name and renamed, so readers never see half a file. A file that does not load is
ignored and rewritten.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
from pathlib import Path

from pytest_imagebuild.image.tarindex import Member

__all__ = ["load_index", "store_index"]

FORMAT = 2  # 2: sha256 of a file may be None (computed on first use)


def _file(cache: Path, digest: str) -> Path:
    return cache / (digest.replace(":", "-") + ".idx")


def load_index(cache: Path, key: str, size: int) -> tuple[str, str, str, list[Member]] | None:
    """Return (compression, diff_id, digest, members) stored under ``key``, if any."""
    try:
        data = marshal.loads(_file(cache, key).read_bytes())  # noqa: S302 (own cache files)
        fmt, stored_key, stored_size, compression, diff_id, blob_digest, rows = data
        if fmt != FORMAT or stored_key != key or stored_size != size:
            return None
        return compression, diff_id, blob_digest, [Member._make(row) for row in rows]
    except (OSError, EOFError, ValueError, TypeError):
        return None


def store_index(
    cache: Path,
    key: str,
    size: int,
    compression: str,
    diff_id: str,
    digest: str,
    members: list[Member],
) -> None:
    """Write the index under ``key``; failures to write are ignored (it is only a cache)."""
    rows = [tuple(m) for m in members]
    data = marshal.dumps((FORMAT, key, size, compression, diff_id, digest, rows))
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".idx-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, _file(cache, key))
    except OSError:
        with contextlib.suppress(OSError, NameError):
            os.unlink(tmp)
