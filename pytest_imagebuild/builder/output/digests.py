"""Digest files (kaniko's ``--digest-file``, ``--image-name-with-digest-file`` and
``--image-name-tag-with-digest-file``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .files import atomic_file

__all__ = [
    "split_tag",
    "write_digest_file",
    "write_name_tag_with_digest_file",
    "write_name_with_digest_file",
]


def split_tag(ref: str) -> tuple[str, str | None]:
    """``host:5000/repo:tag`` -> (``host:5000/repo``, ``tag``); a digest part is dropped."""
    ref = ref.partition("@")[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None


def write_digest_file(path: Path, digest: str) -> None:
    """The manifest digest alone, ``sha256:...``, no newline (as kaniko writes it)."""
    with atomic_file(path) as fh:
        fh.write(digest.encode())


def write_name_with_digest_file(path: Path, names: Sequence[str], digest: str) -> None:
    """One ``repo@sha256:...`` line per destination."""
    lines = [f"{split_tag(name)[0]}@{digest}\n" for name in names]
    with atomic_file(path) as fh:
        fh.write("".join(lines).encode())


def write_name_tag_with_digest_file(path: Path, names: Sequence[str], digest: str) -> None:
    """One ``repo:tag@sha256:...`` line per destination (``latest`` when untagged)."""
    lines = []
    for name in names:
        repo, tag = split_tag(name)
        lines.append(f"{repo}:{tag or 'latest'}@{digest}\n")
    with atomic_file(path) as fh:
        fh.write("".join(lines).encode())
