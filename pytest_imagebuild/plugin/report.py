"""Summaries of an image for the pytest header and for failed-test report sections."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.builds import BuildSettings
from pytest_imagebuild.plugin.repr import format_layer, shorten

__all__ = ["build_header_line", "header_line", "image_platform", "image_summary"]


def image_platform(image: Image) -> str:
    """``linux/arm64/v8`` style platform of an opened image."""
    parts = [image.os, image.architecture]
    if image.variant:
        parts.append(image.variant)
    return "/".join(parts)


def _command(value: tuple[str, ...] | None) -> str:
    return "(not set)" if value is None else json.dumps(list(value))


def image_summary(image: Image, path: Path | None) -> str:
    """Multi-line description attached to failed tests that used the image."""
    lines = [
        f"image:      {path if path is not None else '(unknown file)'}",
        f"id:         {image.id}",
        f"platform:   {image_platform(image)}",
    ]
    if image.repo_tags:
        lines.append(f"tags:       {', '.join(image.repo_tags)}")
    lines += [
        f"user:       {image.user or '(not set: root)'}",
        f"workdir:    {image.workdir or '(not set: /)'}",
        f"entrypoint: {_command(image.entrypoint)}",
        f"cmd:        {_command(image.cmd)}",
        f"env:        {'' if image.env else '(empty)'}",
        *(f"  {key}={shorten(value, 120)}" for key, value in image.env.items()),
        f"layers:     {len(image.layers)}",
        *(f"  {format_layer(layer)}" for layer in image.layers),
    ]
    return "\n".join(lines)


def header_line(
    path: Path | None, image: Image | None, error: Exception | None, index_cache: Path | None
) -> str:
    """``imagebuild: image /x.tar (3 layers, linux/amd64), index cache /...``."""
    cache = f"index cache {index_cache}" if index_cache is not None else "no index cache"
    if path is None:
        return f"imagebuild: no image configured, {cache}"
    if image is not None:
        count = len(image.layers)
        details = f"{count} layer{'' if count == 1 else 's'}, {image_platform(image)}"
    else:
        first_line = str(error).splitlines()[0] if error is not None else "not opened"
        details = f"cannot open: {first_line}"
    return f"imagebuild: image {path} ({details}), {cache}"


def build_header_line(settings: BuildSettings) -> str:
    """``imagebuild: build cache /x (executor embedded), sandbox: <mode>``."""
    try:
        mode = sandbox.probe().describe()
    except (ImageBuildError, OSError) as exc:
        mode = f"unavailable ({str(exc).splitlines()[0]})"
    flags = [
        name
        for name, on in (
            ("no-cache", settings.no_cache),
            ("offline", settings.offline),
            ("keep-build-dirs", settings.keep_build_dirs),
        )
        if on
    ]
    if settings.parity:
        flags.append(f"parity with {settings.parity}")
    extra = f", {', '.join(flags)}" if flags else ""
    return (
        f"imagebuild: build cache {settings.cache_dir} (executor {settings.executor}{extra}), "
        f"sandbox: {mode}"
    )
