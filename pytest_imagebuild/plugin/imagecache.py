"""Built image tarballs on disk, one directory per cache key.

```
<root>/images/<hh>/<key>/image.tar    the docker-archive tarball
<root>/images/<hh>/<key>/entry.json   format, key, name, size, build seconds, step counts
<root>/locks/<hh>/<key>.lock          flock held while one process builds the key
<root>/tmp/<random>/entry/            a build in progress (renamed into images/ when done)
```

An entry is trusted only if ``entry.json`` parses, carries this format and its own key, and
the tarball has the recorded size. The entry directory appears by one ``rename`` of a
complete temp directory, so a build killed at any point leaves at most a temp directory,
never an entry; ``prune_temp`` removes temp directories older than an hour.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder.cache.store import file_lock, write_atomic

__all__ = ["ENTRY_FORMAT", "ImageEntry", "ImageStore", "staged_tarball"]

ENTRY_FORMAT = "imagebuild-image-1"
_TEMP_AGE = 3600.0


@dataclass(frozen=True)
class ImageEntry:
    """A complete, trusted build result."""

    key: str
    tarball: Path
    size: int
    seconds: float
    steps_cached: int
    steps_run: int


def staged_tarball(staged: Path) -> Path:
    """Where a build in the temp directory ``staged`` writes its tarball."""
    return staged / "entry" / "image.tar"


class ImageStore:
    """Tarballs by key under ``root``; safe for concurrent processes sharing ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, key: str) -> Path:
        return self.root / "images" / key[:2] / key

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Held across lookup, build and store, so one process builds a key while the
        others wait and then find the entry."""
        with file_lock(self.root / "locks" / key[:2] / f"{key}.lock"):
            yield

    def get(self, key: str) -> ImageEntry | None:
        """The entry for ``key`` when it is complete and valid, else None."""
        where = self._dir(key)
        try:
            data = json.loads((where / "entry.json").read_text(encoding="utf-8"))
            tarball = where / "image.tar"
            if (
                not isinstance(data, dict)
                or data.get("format") != ENTRY_FORMAT
                or data.get("key") != key
                or tarball.stat().st_size != data.get("size")
            ):
                return None
            return ImageEntry(
                key,
                tarball,
                int(data["size"]),
                float(data.get("seconds", 0.0)),
                int(data.get("steps_cached", -1)),
                int(data.get("steps_run", -1)),
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh temp directory for one build; removed when done. The build writes
        :func:`staged_tarball` inside it; everything else in it is scratch space."""
        base = self.root / "tmp"
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=base))
        (work / "entry").mkdir()
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def put(self, key: str, staged: Path, *, seconds: float, steps: tuple[int, int]) -> ImageEntry:
        """Publish the staged tarball under ``key`` (call with the key's lock held)."""
        tarball = staged_tarball(staged)
        size = tarball.stat().st_size
        entry = {
            "format": ENTRY_FORMAT,
            "key": key,
            "size": size,
            "seconds": round(seconds, 3),
            "steps_cached": steps[0],
            "steps_run": steps[1],
            "created": time.time(),
        }
        write_atomic(tarball.parent / "entry.json", json.dumps(entry, indent=1).encode())
        final = self._dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a broken leftover (get() refused it): replace it
            shutil.rmtree(final)
        # The temp dir and the entries share a file system: one atomic rename publishes.
        os.rename(tarball.parent, final)
        found = self.get(key)
        if found is None:
            raise OSError(f"image cache entry {final} did not verify after writing it")
        return found

    def prune_temp(self, max_age: float = _TEMP_AGE) -> None:
        """Remove temp directories of builds that died more than ``max_age`` seconds ago."""
        base = self.root / "tmp"
        if not base.is_dir():
            return
        now = time.time()
        for child in base.iterdir():
            try:
                if now - child.stat().st_mtime > max_age:
                    shutil.rmtree(child, ignore_errors=True)
            except OSError:
                continue
