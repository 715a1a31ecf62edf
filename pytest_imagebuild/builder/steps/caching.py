"""The layer cache as steps see it: a key per step, lookups for RUN/COPY/ADD, stores on a miss.

Keys chain from the base (its config digest, ``scratch``, or an earlier stage's last key)
through every instruction. A metadata step's key is its ``created_by`` (already expanded); a
RUN's adds the visible build args, ENV, user, working directory and the digests of what its
bind mounts read (a ``from=`` bind: that stage's key, the image's digest or the directory
context's digest); COPY/ADD add the digest of their sources (content, modes, no mtimes).
Secrets enter by id only, cache mounts not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.cache import (
    CachedLayer,
    CachedStep,
    LayerCache,
    StepKey,
    base_key,
    step_key,
    visible_args,
)
from pytest_imagebuild.builder.context import BuildContext

from .base import Where
from .state import LayerRecord, StageState

__all__ = ["StepCache"]

_COMPRESSED = ("gzip", "zstd")


@dataclass
class StepCache:
    """Keys and lookups for one build; shared by its stages."""

    cache: LayerCache
    platform: str
    context: BuildContext
    epoch: int | None = None  # layers with file times clamped are other layers
    encoding: str | None = None  # an explicit --compression: layers encoded otherwise differ

    def __post_init__(self) -> None:
        self.hasher = self.cache.hasher(self.context.root, ignore=self.context)

    def base(self, config_digest: str | None) -> StepKey:
        scope = self.platform if self.epoch is None else f"{self.platform} epoch={self.epoch}"
        if self.encoding is not None:
            scope += f" encoding={self.encoding}"
        return base_key(config_digest or "scratch", scope)

    def chain(self, parent: StepKey, created_by: str) -> StepKey:
        return step_key(parent, created_by, platform=self.platform)

    def caches(self, keyword: str) -> bool:
        return self.cache.policy.caches(keyword)

    def _instruction(self, where: Where) -> str:
        instr = where.instruction
        text = instr.original.strip()
        for doc in instr.heredocs:
            text += f"\n{doc.body}{doc.name}"
        return text

    def run_key(
        self,
        parent: StepKey,
        where: Where,
        state: StageState,
        from_key: Callable[[str], str] | None = None,
    ) -> StepKey:
        """``from_key`` keys a bind ``from=`` a stage, an image or a directory context."""
        inputs: dict[str, str] = {
            "user": state.user,
            "workdir": state.workdir,
            "shell": " ".join(state.shell),
            "volumes": ",".join(sorted(state.config.get("Volumes") or {})),
        }
        for spec in where.instruction.flag_values("mount"):
            opts = dict(item.partition("=")[::2] for item in spec.split(","))
            if opts.get("type", "bind") != "bind":
                continue
            target = f"bind:{opts.get('target') or opts.get('dst')}"
            if opts.get("from") and from_key is not None:
                inputs[target] = "from:" + from_key(opts["from"])
            elif not opts.get("from"):
                source = opts.get("source") or opts.get("src") or "."
                inputs[target] = self.hasher.digest([source])
        return step_key(
            parent,
            self._instruction(where),
            platform=self.platform,
            args=visible_args(state.arg_values(), state.declared),
            env=state.env,
            inputs=inputs,
        )

    def copy_key(
        self, parent: StepKey, where: Where, state: StageState, from_key: str | None
    ) -> StepKey | None:
        """None when the sources cannot be keyed up front (ADD from a URL)."""
        instr = where.instruction
        env = state.expansion_env()
        sources = [where.expand(word, env) for word in instr.args[:-1] if not word.startswith("<<")]
        if any("://" in word for word in sources) or any(c in "".join(sources) for c in "*?["):
            return None
        inputs = {"from": from_key} if from_key else {"src": self.hasher.digest(sources)}
        inputs["workdir"] = state.workdir
        inputs["dest"] = where.expand(instr.args[-1], env)
        return step_key(
            parent,
            self._instruction(where),
            platform=self.platform,
            args=visible_args(state.arg_values(), state.declared),
            env=state.env,
            inputs=inputs,
        )

    def lock(self, key: StepKey) -> contextlib.AbstractContextManager[None]:
        """Held from lookup to store: a concurrent build with the same step waits, then
        takes this build's result, so it makes the same image a sequential build would."""
        return self.cache.lock(key)

    def lookup(self, key: StepKey) -> CachedStep | None:
        return self.cache.lookup(key)

    def layer_path(self, layer: CachedLayer) -> Path:
        return self.cache.blobs.path(layer.digest)

    def record(self, layer: CachedLayer) -> LayerRecord:
        return LayerRecord(
            layer.digest,
            layer.diff_id,
            layer.size,
            layer.media_type,
            self.layer_path(layer),
            layer.media_type.endswith(_COMPRESSED),
        )

    def lookup_local(self, key: StepKey) -> CachedStep | None:
        """A step kept only locally (metadata, WORKDIR): not counted, never shared."""
        return self.cache.local.get(key)

    def store(self, key: StepKey, state: StageState, added_layer: bool, source: BlobStore) -> None:
        """Keep the step just executed: its history entry and, when it added one, its layer."""
        self.cache.store(key, _entry(state, added_layer), source=source)

    def store_local(
        self, key: StepKey, state: StageState, added_layer: bool, source: BlobStore
    ) -> None:
        """Keep a metadata or WORKDIR step locally, under its chained key: its history time
        comes back on a replay (an unchanged rebuild is the same image, as docker's is) and
        WORKDIR's directories depend on the root, which that key names."""
        self.cache.local.put(key, _entry(state, added_layer), source=source)


def _entry(state: StageState, added_layer: bool) -> CachedStep:
    layer = None
    if added_layer:
        last = state.layers[-1]
        layer = CachedLayer(last.digest, last.diff_id, last.size, last.media_type)
    history = dict(state.history[-1])  # "created" kept: a replay reuses the step's time
    history.pop("empty_layer", None)
    return CachedStep(layer, history)
