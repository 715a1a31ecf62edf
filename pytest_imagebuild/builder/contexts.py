"""Named build contexts: BuildKit's ``--build-context name=value``.

A value is one of

- ``docker-image://REF[@digest]``: an image, pulled like any base (same registry options,
  mirrors and credentials); ``docker-image://scratch`` is the empty image;
- ``oci-layout://PATH[:TAG|@DIGEST]``: an image from a local OCI layout (a digest may name an
  index, whose entry for the stage's platform is taken);
- a local directory: a second context that ``COPY --from=name`` and ``RUN --mount=from=name``
  read, with its own ``.dockerignore``.

Names match as BuildKit matches them. A stage whose name is a context's name is replaced
by that context (its instructions are not run). Otherwise stage names come first: a
``FROM`` or ``--from`` naming an earlier stage takes the stage. Any other ``FROM``/``--from``
reference is normalized the way docker shortens references (``docker.io/library/debian:latest``
is ``debian``, ``debian:12.7`` stays ``debian:12.7``) and a context of that name, first
``name::os/arch`` for the platform at hand, then ``name``, takes its place. Context names are
normalized the same way, so ``debian:latest`` and ``debian`` name one context.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder.plan import Plan, Stage
from pytest_imagebuild.builder.registry.reference import Reference
from pytest_imagebuild.errors import DockerfileError, Location, UsageError
from pytest_imagebuild.oci import Platform

__all__ = [
    "DIRECTORY",
    "IMAGE",
    "NamedContext",
    "NamedContexts",
    "anchored",
    "parse_flag",
]

IMAGE = "image"
DIRECTORY = "directory"
SUPPORTED = "docker-image://REF[@DIGEST], oci-layout://PATH[:TAG|@DIGEST] or a local directory"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFUSED = ("http://", "https://", "git://", "git@", "ssh://", "target:", "input:", "local:")


@dataclass(frozen=True)
class NamedContext:
    """One ``--build-context``: its name and value as given, and what it stands for.

    ``source`` is the reference the builder pulls for an image (a registry reference,
    ``oci:/path[:tag|@digest]`` or ``scratch``) and the absolute path of a directory.
    """

    name: str
    value: str
    kind: str
    source: str

    @property
    def is_directory(self) -> bool:
        return self.kind == DIRECTORY


def _bad(text: str, why: str, hint: str = f"a value is {SUPPORTED}") -> UsageError:
    return UsageError(f"invalid --build-context {text!r}: {why}", hint=hint)


def parse_flag(text: str) -> tuple[str, str]:
    """``name=value`` from the command line."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise _bad(
            text, "expected name=value", hint=f"--build-context name=VALUE, VALUE {SUPPORTED}"
        )
    return name.strip(), value.strip()


def _short(ref: Reference) -> str:
    """Docker's familiar form without a ``:latest`` tag, as BuildKit keys its contexts."""
    return ref.familiar.removesuffix(":latest") if ref.digest is None else ref.familiar


def lookup_name(ref: str) -> str | None:
    """The key a ``FROM``/``--from`` reference looks a context up by; None if it is no name."""
    try:
        return _short(Reference.parse(ref))
    except UsageError:
        return None


def _key(name: str) -> str:
    base, sep, plat = name.partition("::")
    try:
        key = _short(Reference.parse(base))
    except UsageError as exc:
        raise _bad(
            f"{name}=...",
            f"the name {base!r} is not an image or stage name ({exc.message})",
            hint="a name is a stage name or an image reference such as debian:12, "
            "optionally with ::os/arch",
        ) from None
    if not sep:
        return key
    try:
        return f"{key}::{Platform.parse(plat)}"
    except ValueError:
        raise _bad(f"{name}=...", f"bad platform {plat!r}", hint="write name::os/arch") from None


def _layout(text: str, body: str) -> str:
    path, digest = body, None
    if "@" in Path(body).name:
        path, _, digest = body.rpartition("@")
        if not _DIGEST.match(digest):
            raise _bad(text, f"{digest!r} is not a sha256 digest", hint="@sha256:<64 hex>")
    tag = None
    if digest is None and ":" in Path(body).name and not Path(body).is_dir():
        path, _, tag = body.rpartition(":")
    root = Path(path).absolute()
    if not (root / "index.json").is_file():
        raise _bad(text, f"{root} is not an OCI layout (no index.json)")
    suffix = f"@{digest}" if digest else (f":{tag}" if tag else "")
    return f"oci:{root}{suffix}"


def _context(name: str, value: str) -> NamedContext:
    text = f"{name}={value}"
    lowered = value.lower()
    if lowered.startswith(_REFUSED):
        scheme = next(p for p in _REFUSED if lowered.startswith(p)).rstrip(":/@")
        raise _bad(text, f"{scheme} contexts are not supported")
    if lowered.startswith("docker-image://"):
        ref = value[len("docker-image://") :]
        if ref == "scratch":
            return NamedContext(name, value, IMAGE, "scratch")
        try:
            Reference.parse(ref)
        except UsageError as exc:
            raise _bad(text, exc.message, hint=exc.hint or "") from None
        return NamedContext(name, value, IMAGE, ref)
    if lowered.startswith("oci-layout://"):
        return NamedContext(name, value, IMAGE, _layout(text, value[len("oci-layout://") :]))
    if "://" in value:
        raise _bad(text, f"{value.split('://', 1)[0]}:// contexts are not supported")
    root = Path(value).absolute()
    if not root.is_dir():
        raise _bad(text, f"{root} is not a directory")
    return NamedContext(name, value, DIRECTORY, os.path.normpath(root))


def anchored(value: str, base: Path) -> str:
    """``value`` with a relative directory or layout path made absolute against ``base``."""
    if value.lower().startswith("oci-layout://"):
        body = value[len("oci-layout://") :]
        return value if Path(body).is_absolute() else "oci-layout://" + str(base / body)
    if "://" in value or value.lower().startswith(_REFUSED):
        return value
    return os.path.normpath(base / value)


@dataclass(frozen=True)
class NamedContexts:
    """The contexts of one build, by normalized name (the last of a name wins)."""

    by_key: Mapping[str, NamedContext] = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(cls, pairs: Iterable[tuple[str, str]]) -> NamedContexts:
        found: dict[str, NamedContext] = {}
        for name, value in pairs:
            if not name.strip() or not value.strip():
                raise _bad(f"{name}={value}", "expected name=value")
            found[_key(name.strip())] = _context(name.strip(), value.strip())
        return cls(found)

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def find(self, ref: str, platform: str) -> NamedContext | None:
        """The context a (non-stage) reference stands for on ``platform``, if any."""
        key = lookup_name(ref)
        if key is None or not self.by_key:
            return None
        return self.by_key.get(f"{key}::{Platform.parse(platform)}") or self.by_key.get(key)

    def apply(self, plan: Plan, platform: str) -> tuple[Plan, dict[int, NamedContext]]:
        """``plan`` with replaced stages and bases; the stages replaced by a directory."""
        if not self.by_key:
            return plan, {}
        stages: list[Stage] = []
        directories: dict[int, NamedContext] = {}
        for stage in plan.stages:
            plat = stage.platform or platform
            whole = self.find(stage.name, plat) if stage.name else None
            if whole is not None:
                stage = _replaced(stage, whole)
                if whole.is_directory:
                    directories[stage.index] = whole
            elif stage.base_stage is not None and stage.base_stage in directories:
                raise _from_directory(plan, stage, directories[stage.base_stage])
            elif stage.base_stage is None:
                base = self.find(stage.base, plat) if stage.base.lower() != "scratch" else None
                if base is not None and base.is_directory:
                    raise _from_directory(plan, stage, base)
                if base is not None:
                    stage = dataclasses.replace(stage, base=base.source)
            stages.append(dataclasses.replace(stage, images=self._images(stage, platform)))
        if plan.target in directories:
            raise UsageError(
                f"the target stage {plan.stages[plan.target].label!r} is replaced by the "
                f"directory context {directories[plan.target].value!r}",
                hint="a directory context is read by COPY --from and RUN --mount from=; "
                "build another stage",
            )
        return dataclasses.replace(plan, stages=tuple(stages)), directories

    def _images(self, stage: Stage, platform: str) -> tuple[str, ...]:
        out: list[str] = []
        for ref in stage.images:
            found = self.find(ref, platform)
            if found is None:
                out.append(ref)
            elif not found.is_directory:
                out.append(found.source)
        return tuple(out)


def _replaced(stage: Stage, context: NamedContext) -> Stage:
    """A stage whose whole content is a context: no instructions, no dependencies."""
    base = "scratch" if context.is_directory else context.source
    return dataclasses.replace(
        stage, base=base, base_stage=None, instructions=(), deps=frozenset(), images=()
    )


def _from_directory(plan: Plan, stage: Stage, context: NamedContext) -> DockerfileError:
    return DockerfileError(
        f"FROM {stage.base}: the build context {context.name!r} is a directory "
        f"({context.source}), not an image",
        location=Location(plan.path, stage.from_instruction.start_line),
        hint="a directory context is read by COPY --from and RUN --mount from=; give FROM "
        "an image: docker-image://REF or oci-layout://PATH",
    )
