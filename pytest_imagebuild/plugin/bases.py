"""Digests of the images a Dockerfile builds on, for the plugin's cache key.

The plugin skips the builder entirely when an image's key is known, so the key must change
when a base image changes even though the Dockerfile text does not (``FROM debian:12`` after
the tag moved). Each base a build needs (``FROM`` of the stages it builds, ``COPY --from``
and ``RUN --mount from=`` images) becomes a digest:

- ``scratch`` and earlier stages: nothing (their own steps are hashed);
- ``name@sha256:...``: that digest, already in the text;
- an OCI layout (``oci:/dir[:tag]`` or a layout directory): sha256 of its ``index.json``;
- a tag in a registry: the platform's manifest digest, asked once per session (one manifest
  GET). Each answer is recorded in ``<cache>/bases.json``; offline, the recorded digest is
  used and the registry is never contacted, and a tag never resolved is an error.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import httpx

from pytest_imagebuild.builder import registry
from pytest_imagebuild.builder.cache.store import file_lock, write_atomic
from pytest_imagebuild.builder.dockerfile import parse_file
from pytest_imagebuild.builder.plan import Plan, make_plan
from pytest_imagebuild.builder.registry.manifests import resolve_manifest
from pytest_imagebuild.builder.registry.pull import fetch_manifest
from pytest_imagebuild.errors import ImageBuildError, Location, RegistryError
from pytest_imagebuild.oci import Platform

__all__ = ["BaseResolver", "image_refs", "plan_for"]


def plan_for(
    dockerfile: Path, build_args: dict[str, str | None], target: str | None, platform: str
) -> Plan:
    """The builder's own plan for a Dockerfile (same parser, same ARG expansion)."""
    return make_plan(
        parse_file(dockerfile), build_args=build_args, target=target, target_platform=platform
    )


def image_refs(plan: Plan) -> list[tuple[str, int]]:
    """``(reference, FROM line)`` of every image (not a stage) the build needs, in order."""
    found: list[tuple[str, int]] = []
    for index in plan.required(skip_unused=True):
        stage = plan.stages[index]
        line = stage.from_instruction.start_line
        refs = list(stage.images)
        if stage.base_stage is None and stage.base.lower() != "scratch":
            refs.insert(0, stage.base)
        found += [(ref, line) for ref in refs if (ref, line) not in found]
    return found


class BaseResolver:
    """Turns image references into digests; shared by the session's builds."""

    def __init__(
        self, cache_dir: Path, *, offline: bool, options: registry.RegistryOptions
    ) -> None:
        self._record = cache_dir / "bases.json"
        self._offline = offline
        self._options = options
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def digests(self, plan: Plan, platform: str) -> dict[str, str]:
        """``{reference: digest}`` for every image ``plan`` builds on."""
        result: dict[str, str] = {}
        for ref, line in image_refs(plan):
            try:
                result[ref] = self.digest(ref, platform)
            except ImageBuildError as exc:
                if exc.location is None:
                    exc.location = Location(plan.path, line)
                raise
        return result

    def digest(self, ref: str, platform: str) -> str:
        if registry.is_layout_source(ref):
            return _layout_digest(ref)
        if "@sha256:" in ref:
            return ref.rsplit("@", 1)[1]
        name = f"{ref} {platform}"
        with self._lock:
            if name not in self._known:
                self._known[name] = self._recorded(name) if self._offline else self._ask(ref, name)
            return self._known[name]

    def _recorded(self, name: str) -> str:
        found = self._load().get(name)
        if found is None:
            ref = name.split(" ")[0]
            raise RegistryError(
                f"offline: base image {ref} has never been resolved, and resolving it "
                "means asking its registry",
                hint="run once without --imagebuild-offline (or pin the base by digest: "
                "FROM name@sha256:...)",
            )
        return found

    def _ask(self, ref: str, name: str) -> str:
        """The manifest digest from the registry, trying its mirrors first (as pulls do)."""
        parsed = registry.Reference.parse(ref)
        platform = Platform.parse(name.split(" ")[1])
        candidates = [_mirrored(parsed, m) for m in self._options.mirrors_for(parsed.registry)]
        errors: list[str] = []
        digest = None
        with registry.Registries(self._options) as regs:
            for candidate in [*candidates, parsed]:
                try:
                    digest = _manifest_digest(regs.client(candidate.registry), candidate, platform)
                    break
                except (ImageBuildError, httpx.HTTPError, OSError) as exc:
                    errors.append(str(exc).splitlines()[0] or type(exc).__name__)
        if digest is None:
            raise RegistryError(
                f"cannot resolve base image {ref}: " + "; ".join(errors),
                hint="check the registry (--imagebuild-registry-mirror, "
                "--imagebuild-insecure-registry), or run --imagebuild-offline to use the "
                "digest recorded by an earlier run",
            )
        self._save(name, digest)
        return digest

    def _save(self, name: str, digest: str) -> None:
        with file_lock(self._record.with_suffix(".lock")):
            recorded = self._load()
            recorded[name] = digest
            self._record.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._record, json.dumps(recorded, indent=1, sort_keys=True).encode())

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items()}


def _mirrored(ref: registry.Reference, mirror: str) -> registry.Reference:
    host, _, prefix = mirror.partition("/")
    repo = f"{prefix.strip('/')}/{ref.repository}" if prefix.strip("/") else ref.repository
    return registry.Reference(host, repo, ref.tag, ref.digest)


def _manifest_digest(
    client: registry.RegistryClient, ref: registry.Reference, platform: Platform
) -> str:
    resolved = resolve_manifest(
        lambda ident: fetch_manifest(client, ref, ident),
        ref.identifier,
        platform,
        what=str(ref),
        source=f"registry {client.registry}",
    )
    return resolved.digest


def _layout_digest(ref: str) -> str:
    text = ref.removeprefix("oci:")
    if "@sha256:" in text:  # pinned: the digest names the content
        return text.rsplit("@", 1)[1]
    root = Path(text)
    if not (root / "index.json").is_file() and ":" in text:
        root = Path(text.rsplit(":", 1)[0])
    try:
        data = (root / "index.json").read_bytes()
    except OSError as exc:
        raise ImageBuildError(
            f"base image {ref}: cannot read {root / 'index.json'}: {exc.strerror}"
        ) from exc
    return "sha256:" + hashlib.sha256(data).hexdigest()
