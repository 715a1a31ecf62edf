"""Small file helpers shared by the writers: atomic replace, streamed copies, tar members."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..fs.streams import open_layer
from ..fs.tarformat import DIRECTORY, REGULAR, Member, build_header, padding
from ..livedirs import locked_temp, reap_temp, sync_dir

__all__ = [
    "TEMP_MARK",
    "atomic_file",
    "copy_into",
    "link_or_copy",
    "tar_bytes",
    "tar_decompressed",
    "tar_dir",
    "tar_file",
]

_CHUNK = 8 << 20
TEMP_MARK = ".tmp-"
"""Temp files of an output ``name`` are ``.<name>.tmp-<random>``, locked by their writer."""


@contextmanager
def atomic_file(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write ``path`` through a locked temp file beside it, synced, renamed on success.

    Temp files of earlier writers of ``path`` that died (their lock is free) are removed
    first; a writer killed now leaves one that the next writer of ``path`` removes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for problem in reap_temp(path.parent, _temp_pattern(path)):
        sys.stderr.write(f"imagebuild: could not remove a dead build's temp file: {problem}\n")
    fd, tmp = locked_temp(path.parent, f".{path.name}{TEMP_MARK}")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the name never points at data still in flight
            os.chmod(tmp, mode)
            os.replace(tmp, path)  # still locked: no reaper takes it in flight
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def _temp_pattern(path: Path) -> str:
    return f".{glob.escape(path.name)}{TEMP_MARK}*"


def copy_into(out: BinaryIO, source: Path, size: int) -> None:
    """Append ``size`` bytes of ``source`` to ``out`` in the kernel where it can."""
    out.flush()
    out_fd = out.fileno()
    with open(source, "rb", buffering=0) as src:
        in_fd = src.fileno()
        remaining = size
        while remaining:
            try:
                sent = os.copy_file_range(in_fd, out_fd, min(remaining, _CHUNK))
            except OSError:
                sent = os.sendfile(out_fd, in_fd, None, min(remaining, _CHUNK))
            if not sent:
                raise OSError(f"{source} is shorter than {size} bytes")
            remaining -= sent


def link_or_copy(source: Path, dest: Path) -> None:
    """Put the complete file ``source`` at ``dest``: a hardlink (atomic, on one file system),
    else a copy through :func:`atomic_file`."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
        return
    except FileExistsError:
        return  # another writer put it there
    except OSError:
        pass
    with atomic_file(dest) as out:
        copy_into(out, source, source.stat().st_size)


def tar_dir(out: BinaryIO, name: str) -> None:
    out.write(build_header(Member(name=name, type=DIRECTORY, mode=0o755)))


def tar_bytes(out: BinaryIO, name: str, data: bytes) -> None:
    out.write(build_header(Member(name=name, type=REGULAR, mode=0o644, size=len(data))))
    out.write(data)
    out.write(bytes(padding(len(data))))


def tar_decompressed(out: BinaryIO, name: str, source: Path) -> None:
    """A member holding ``source`` decompressed: header written, data streamed, size patched."""
    out.flush()
    start = os.lseek(out.fileno(), 0, os.SEEK_CUR)
    out.write(build_header(Member(name=name, type=REGULAR, mode=0o644, size=0)))
    size = 0
    buf = bytearray(_CHUNK)
    with open_layer(source) as (stream, _kind):
        while got := stream.readinto(buf):
            out.write(memoryview(buf)[:got])
            size += got
    out.write(bytes(padding(size)))
    out.flush()
    header = build_header(Member(name=name, type=REGULAR, mode=0o644, size=size))
    os.pwrite(out.fileno(), header, start)


def tar_file(out: BinaryIO, name: str, source: Path) -> None:
    """A member holding the file ``source``, streamed without reading it into memory."""
    size = source.stat().st_size
    out.write(build_header(Member(name=name, type=REGULAR, mode=0o644, size=size)))
    copy_into(out, source, size)
    out.write(bytes(padding(size)))
