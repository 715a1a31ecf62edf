"""The plugin's cache key for one build: a sha256 over everything the image depends on.

Inputs (never mtimes, never absolute paths): the Dockerfile's bytes; a digest of every
context file the build may read (all files ``.dockerignore`` keeps, hashed by the builder's
:class:`ContextHasher`: relative path, type, mode, size, content); the build arguments as
given (``K=V``, sorted); the target stage (its index, so no target and the last stage's
name are one image); the platform; the digests of the base images
(:mod:`pytest_imagebuild.plugin.bases`, taken after named contexts replaced them, so the
replacing images' digests count); each named context's value and, for a directory, the digest
of its files as its own ``.dockerignore`` keeps them; the executor; the plugin's version and
this key format.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pytest_imagebuild.builder.cache.hashing import ContextHasher, HashMemo, Ignore
from pytest_imagebuild.builder.context import open_context
from pytest_imagebuild.builder.contexts import NamedContexts
from pytest_imagebuild.errors import ContextError, Location

__all__ = ["KEY_FORMAT", "build_key", "context_digest", "contexts_digests", "plugin_version"]

KEY_FORMAT = "imagebuild-plugin-key-1"


@functools.cache
def plugin_version() -> str:
    try:
        return importlib.metadata.version("pytest-imagebuild")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _Ignore:
    """The context's ignore rules plus directories the test run itself writes to."""

    def __init__(self, rules: Ignore, skipped: frozenset[str]) -> None:
        self.rules = rules
        self.skipped = skipped

    def excluded(self, path: str) -> bool:
        return path in self.skipped or self.rules.excluded(path)

    def skipped_dir(self, path: str) -> bool:
        return path in self.skipped or self.rules.skipped_dir(path)


def context_digest(
    context: Path, dockerfile: Path | None, memo_dir: Path | None, skip: tuple[Path, ...] = ()
) -> str:
    """Digest of every file of ``context`` that the ignore rules keep.

    ``dockerfile`` adds its ``<Dockerfile>.dockerignore``; without it only the context's own
    ``.dockerignore`` counts (a named directory context).

    Directories in ``skip`` (pytest's cache, the build cache) are left out when they lie
    inside the context: the run writes them, so hashing them would change every key.
    """
    if not context.is_dir():
        raise ContextError(
            f"build context {context} is not a directory",
            hint="the marker's context= is relative to the test file",
        )
    # A directory context needs no work dir; tar contexts are not offered by the plugin.
    ctx = open_context(str(context), dockerfile, Path(tempfile.gettempdir()))
    memo = None
    if memo_dir is not None:
        name = hashlib.sha256(str(context).encode()).hexdigest()[:32]
        memo = HashMemo(memo_dir / f"{name}.json")
    skipped = frozenset(
        path.relative_to(context).as_posix() for path in skip if path.is_relative_to(context)
    )
    ignore = _Ignore(ctx, skipped) if skipped else ctx
    return ContextHasher(context, ignore=ignore, memo=memo).digest(["."])


def contexts_digests(
    named: NamedContexts, memo_dir: Path | None, skip: tuple[Path, ...] = ()
) -> dict[str, str]:
    """``{name: value}`` of the named contexts; a directory's value carries its digest."""
    out: dict[str, str] = {}
    for key, found in named.by_key.items():
        value = found.value
        if found.is_directory:
            value += " " + context_digest(Path(found.source), None, memo_dir, skip)
        out[key] = value
    return out


def dockerfile_digest(dockerfile: Path) -> str:
    try:
        data = dockerfile.read_bytes()
    except OSError as exc:
        raise ContextError(
            f"cannot read Dockerfile {dockerfile}: {exc.strerror}",
            location=Location(str(dockerfile)),
            hint="the marker's path= is relative to the test file",
        ) from exc
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_key(
    *,
    dockerfile: str,
    context: str,
    build_args: Mapping[str, str | None],
    target: str | None,
    platform: str,
    bases: Mapping[str, str],
    executor: str,
    contexts: Mapping[str, str] | None = None,
) -> str:
    """sha256 hex over canonical JSON of the inputs (digests, not paths)."""
    document = {
        "format": KEY_FORMAT,
        "plugin": plugin_version(),
        "executor": executor,
        "dockerfile": dockerfile,
        "context": context,
        "args": sorted(f"{k}={v}" if v is not None else k for k, v in build_args.items()),
        "target": target,
        "platform": platform,
        "bases": dict(sorted(bases.items())),
    }
    if contexts:  # absent without named contexts: keys of earlier runs stay valid
        document["contexts"] = dict(sorted(contexts.items()))
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
