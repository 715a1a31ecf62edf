"""Which image a test asks for: a value describing an existing image or a build.

- :class:`TarballSource`: an image someone already built (docker-archive, OCI layout
  or OCI archive) that is opened as it is;
- :class:`BuildSpec`: a Dockerfile and its context, built by the factory.

The ``dockerfile`` marker and indirect ``image`` parameters are turned into one of these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_imagebuild.builder.contexts import anchored
from pytest_imagebuild.errors import UsageError

__all__ = [
    "MARKER_SIGNATURE",
    "BuildSpec",
    "ImageSource",
    "TarballSource",
    "build_contexts_value",
    "no_image_error",
    "source_from_marker",
    "source_from_param",
]

MARKER_SIGNATURE = (
    "dockerfile(path=None, *, context=None, target=None, build_args=None, platform=None, "
    "image=None, build_contexts=None)"
)
_BUILD_KEYWORDS = ("path", "context", "target", "build_args", "build_contexts")
_MARKER_KEYWORDS = frozenset({*_BUILD_KEYWORDS, "platform", "image"})


@dataclass(frozen=True)
class TarballSource:
    """An existing image: a tarball or an OCI layout directory."""

    path: Path
    platform: str | None = None
    origin: str = ""
    """Where the test asked for it (``--imagebuild-image``, a marker, ...), for messages."""


@dataclass(frozen=True)
class BuildSpec:
    """A Dockerfile to build; every path is absolute."""

    dockerfile: Path
    context: Path
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    origin: str = field(default="", compare=False)
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    """BuildKit's named contexts, ``{name: value}``; directory and layout paths absolute."""

    def describe(self) -> str:
        """``docker/Dockerfile (target=web, A=1)`` for summaries."""
        extras = [f"target={self.target}"] if self.target else []
        extras += [f"{key}={value}" for key, value in sorted(self.build_args.items())]
        extras += [f"{key}={value}" for key, value in sorted(self.build_contexts.items())]
        if self.platform:
            extras.append(f"platform={self.platform}")
        return f"{self.dockerfile}" + (f" ({', '.join(extras)})" if extras else "")


ImageSource = TarballSource | BuildSpec


def _clean(path: Path) -> Path:
    """Absolute, without ``..`` (symlinks kept, so the path reads as the user wrote it)."""
    return Path(os.path.normpath(path.absolute()))


def _is_dockerfile(path: Path) -> bool:
    name = path.name.lower()
    return name.startswith(("dockerfile", "containerfile")) or name.endswith(
        (".dockerfile", ".containerfile")
    )


def _optional_str(value: object, name: str, origin: str) -> str | None:
    __tracebackhide__ = True
    if value is None or isinstance(value, str):
        return value
    raise UsageError(f"{origin}: {name} must be a string, got {value!r}")


def _path_value(value: object, name: str, origin: str) -> Path | None:
    __tracebackhide__ = True
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise UsageError(f"{origin}: {name} must be a path, got {value!r}")


def _build_args(value: object, origin: str) -> dict[str, str]:
    __tracebackhide__ = True
    if value is None:
        return {}
    if isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        return dict(value)
    raise UsageError(f"{origin}: build_args must be a dict of str to str, got {value!r}")


def build_contexts_value(value: object, base: Path, origin: str) -> dict[str, str]:
    """``build_contexts=`` checked, with relative directory and layout paths from ``base``."""
    __tracebackhide__ = True
    if value is None:
        return {}
    if isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(item, str | os.PathLike) for key, item in value.items()
    ):
        return {key: anchored(os.fspath(item), base) for key, item in value.items()}
    raise UsageError(
        f"{origin}: build_contexts must be a dict of str to str, got {value!r}",
        hint='e.g. build_contexts={"debian:12": "docker-image://127.0.0.1:5000/debian:12.8"}',
    )


def source_from_marker(
    args: tuple[object, ...], kwargs: Mapping[str, object], base: Path, origin: str
) -> ImageSource:
    """Turn ``@pytest.mark.dockerfile(...)`` arguments into a source.

    Relative paths start at ``base`` (the test file's directory). Without ``image=``
    the marker asks for a build: ``path`` defaults to ``<context>/Dockerfile`` and
    ``context`` to the Dockerfile's directory.
    """
    __tracebackhide__ = True
    unexpected = [repr(arg) for arg in args[1:]]
    unexpected += [f"{key}={kwargs[key]!r}" for key in sorted(set(kwargs) - _MARKER_KEYWORDS)]
    if args and "path" in kwargs:
        unexpected.append("path given twice")
    if unexpected:
        raise UsageError(
            f"{origin}: unexpected arguments: {', '.join(unexpected)}",
            hint=f"the marker takes {MARKER_SIGNATURE}",
        )
    path = _path_value(args[0] if args else kwargs.get("path"), "path", origin)
    platform = _optional_str(kwargs.get("platform"), "platform", origin)
    image = _path_value(kwargs.get("image"), "image", origin)
    if image is not None:
        given = {"path": path, **kwargs}
        conflicts = [key for key in _BUILD_KEYWORDS if given.get(key) is not None]
        if conflicts:
            raise UsageError(
                f"{origin}: image= opens an existing image and cannot be combined with "
                + ", ".join(conflicts),
                hint="drop image= to build the Dockerfile, or drop the build arguments",
            )
        return TarballSource(base / image, platform, origin)
    context_arg = _path_value(kwargs.get("context"), "context", origin)
    context = base / context_arg if context_arg is not None else None
    dockerfile = _clean(base / path if path is not None else (context or base) / "Dockerfile")
    return BuildSpec(
        dockerfile=dockerfile,
        context=_clean(context) if context is not None else dockerfile.parent,
        target=_optional_str(kwargs.get("target"), "target", origin),
        build_args=_build_args(kwargs.get("build_args"), origin),
        platform=platform,
        origin=origin,
        build_contexts=build_contexts_value(kwargs.get("build_contexts"), base, origin),
    )


def source_from_param(value: object, base: Path, origin: str) -> ImageSource:
    """Turn an indirect ``image`` parameter (a path or a build spec dict) into a source.

    A dict takes the marker's keywords (``{"path": "Dockerfile", "target": "web"}``).
    A path named like a Dockerfile (``Dockerfile``, ``Dockerfile.alpine``,
    ``app.dockerfile``) is built with its directory as context; anything else is opened.
    """
    __tracebackhide__ = True
    if isinstance(value, TarballSource | BuildSpec):
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise UsageError(f"{origin}: build spec keys must be strings, got {value!r}")
        return source_from_marker((), dict(value), base, origin)
    path = _path_value(value, "the image parameter", origin)
    if path is None:
        raise UsageError(f"{origin}: the image parameter is None", hint="give a path")
    path = _clean(base / path)
    if _is_dockerfile(path):
        return BuildSpec(dockerfile=path, context=path.parent, origin=origin)
    return TarballSource(path, None, origin)


def no_image_error(nodeid: str) -> UsageError:
    """The error for a test that uses ``image`` while nothing says which image."""
    return UsageError(
        f"{nodeid}: no image configured for the 'image' fixture",
        hint="pass --imagebuild-image PATH, set imagebuild_image = PATH in the ini file, "
        "mark the test with @pytest.mark.dockerfile(image='PATH') or "
        "@pytest.mark.dockerfile('Dockerfile'), or parametrize it: "
        "@pytest.mark.parametrize('image', ['PATH'], indirect=True)",
    )
