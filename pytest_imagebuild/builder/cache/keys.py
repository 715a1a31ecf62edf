"""Step cache keys: sha256 over a canonical encoding of everything a step's result depends on.

A key chains: the first step of a stage starts from ``base_key`` (the base image's config
digest, a previous stage's final key, or ``scratch``), every later step from the key before
it. The encoding is JSON with sorted keys and no whitespace, so the same inputs give the same
key in every process, on every machine. Never part of a key: mtimes, absolute paths, secret
values, cache-mount contents.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CACHE_FORMAT",
    "PROXY_ARGS",
    "StepKey",
    "base_key",
    "step_key",
    "visible_args",
]

# Bump when the key encoding, the entry format or the layer format changes: every key (and
# so every stored entry, local or remote) of the old format stops matching.
CACHE_FORMAT = "imagebuild-cache-1"

PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)

_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StepKey:
    """A step's cache key: 64 lowercase hex characters (also the cache repository's tag)."""

    hex: str

    def __post_init__(self) -> None:
        if not _HEX.match(self.hex):
            raise ValueError(f"not a cache key: {self.hex!r}")

    @property
    def tag(self) -> str:
        return self.hex

    def __str__(self) -> str:
        return self.hex


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _key(doc: Mapping[str, Any]) -> StepKey:
    return StepKey(hashlib.sha256(_canonical({"format": CACHE_FORMAT, **doc})).hexdigest())


def base_key(image: str, platform: str) -> StepKey:
    """The key a stage starts from.

    ``image`` is the base image's config digest (``sha256:...``; it names the exact layers
    and config), or ``scratch``. For ``FROM <earlier stage>`` use that stage's last key
    directly instead of calling this.
    """
    return _key({"kind": "base", "image": image, "platform": platform})


def visible_args(args: Mapping[str, str], declared: Iterable[str] = ()) -> dict[str, str]:
    """Build args that may enter a key: predefined proxy args only when the file declares
    them with ARG (docker leaves undeclared proxy args out of history and cache)."""
    names = set(declared)
    return {k: v for k, v in args.items() if k not in PROXY_ARGS or k in names}


def _pairs(values: Mapping[str, str] | Sequence[str]) -> list[str]:
    if isinstance(values, Mapping):
        return sorted(f"{k}={v}" for k, v in values.items())
    return sorted(values)


def step_key(
    parent: StepKey,
    instruction: str,
    *,
    platform: str,
    args: Mapping[str, str] | Sequence[str] = (),
    env: Mapping[str, str] | Sequence[str] = (),
    inputs: Mapping[str, str] | Sequence[tuple[str, str]] = (),
) -> StepKey:
    """The key of one step.

    ``instruction``: the instruction as executed, after expansion: keyword, flags and
    arguments, heredoc bodies included (e.g. ``RUN --mount=type=secret,id=npm npm ci``;
    a secret appears by id only). ``args``: the build args the step can see, already passed
    through ``visible_args``; ``env``: the image's ENV at this step (``K=V`` strings or a
    mapping; order does not matter). ``inputs``: labelled digests of what the step reads
    besides its parent, e.g. ``{"src": ContextHasher.digest(...)}`` for COPY/ADD,
    ``{"bind:/src": ...}`` for ``RUN --mount=type=bind``, ``{"from": <stage key>}`` for
    ``COPY --from``. Labels must be stable across builds.
    """
    pairs = sorted(inputs.items()) if isinstance(inputs, Mapping) else sorted(inputs)
    doc = {
        "kind": "step",
        "parent": parent.hex,
        "instruction": instruction,
        "platform": platform,
        "args": _pairs(args),
        "env": _pairs(env),
        "inputs": [[label, digest] for label, digest in pairs],
    }
    return _key(doc)
