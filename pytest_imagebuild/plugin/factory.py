"""The seam between the pytest plugin and the two halves: a source -> an open Image.

A test names its image with a :class:`TarballSource` (opened as it is) or a
:class:`BuildSpec` (built by :meth:`ImageFactory.build`), see ``plugin.sources``.

:class:`ImageFactory` owns every image opened during a pytest session: it reuses an open
image while its file is unchanged and closes them all at the end. Building is delegated to
an :class:`~pytest_imagebuild.plugin.builds.ImageBuilder` (cache key, lock, build or reuse).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from pytest_imagebuild.errors import ImageFormatError, UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.image.invocation import CommandRunner
from pytest_imagebuild.plugin.builds import ImageBuilder
from pytest_imagebuild.plugin.sources import (
    MARKER_SIGNATURE,
    BuildSpec,
    ImageSource,
    TarballSource,
    build_contexts_value,
    no_image_error,
    source_from_marker,
    source_from_param,
)

__all__ = [
    "MARKER_SIGNATURE",
    "BuildSpec",
    "ImageFactory",
    "ImageSource",
    "TarballSource",
    "no_image_error",
    "source_from_marker",
    "source_from_param",
]

_FORMATS = "is it a docker-archive tarball, an OCI layout or an OCI archive?"
_CacheKey = tuple[str, int, int, str | None]


def _stat_key(path: Path, platform: str | None) -> _CacheKey:
    """Identify one version of an image on disk: an edit or a rebuild changes the key."""
    index = path / "index.json"
    probe = index if index.is_file() else path
    stat = probe.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns, platform)


class ImageFactory:
    """Opens and builds images for a test session; returned by ``image_factory``.

    ``index_cache`` is where the read side keeps layer indexes between runs;
    ``platform`` picks one platform of a multi-platform image unless a call says otherwise;
    ``builder`` builds Dockerfiles (without one, :meth:`build` is a usage error);
    ``runner`` becomes ``image.runner`` of every image opened here (``Image.run``).
    """

    def __init__(
        self,
        *,
        index_cache: Path | None = None,
        platform: str | None = None,
        builder: ImageBuilder | None = None,
        runner: CommandRunner | None = None,
    ) -> None:
        self._index_cache = index_cache
        self._platform = platform
        self.builder = builder
        self.runner = runner
        self._open: dict[_CacheKey, Image] = {}
        self._paths: dict[int, Path] = {}

    @property
    def index_cache(self) -> Path | None:
        return self._index_cache

    @property
    def platform(self) -> str | None:
        return self._platform

    def open(
        self, path: str | os.PathLike[str], *, platform: str | None = None, origin: str = ""
    ) -> Image:
        """Open the image at ``path``, or return the one already open if the file is unchanged."""
        __tracebackhide__ = True
        resolved = Path(path).expanduser().resolve()
        chosen = platform or self._platform
        where = f" (from {origin})" if origin else ""
        if not resolved.exists():
            raise UsageError(
                f"image not found: {resolved}{where}",
                hint="build or save the image first, or fix the path "
                "(relative paths in markers and parameters start at the test file)",
            )
        key = _stat_key(resolved, chosen)
        image = self._open.get(key)
        if image is None:
            image = self._load(resolved, chosen)
            self._open[key] = image
            self._paths[id(image)] = resolved
        return image

    def build(
        self,
        path: str | os.PathLike[str] | BuildSpec = "Dockerfile",
        *,
        context: str | os.PathLike[str] | None = None,
        target: str | None = None,
        build_args: dict[str, str] | None = None,
        platform: str | None = None,
        build_contexts: dict[str, str] | None = None,
    ) -> Image:
        """Build a Dockerfile (or reuse the cached build of the same inputs) and open it.

        ``path`` is a Dockerfile (relative to the current directory) or a
        :class:`BuildSpec`; ``context`` defaults to the Dockerfile's directory.
        ``build_contexts`` are BuildKit's named contexts (``{"debian:12":
        "docker-image://host/debian:12.8"}``, a directory, ``oci-layout://PATH``).
        """
        __tracebackhide__ = True
        if isinstance(path, BuildSpec):
            spec = path
        else:
            dockerfile = Path(os.path.normpath(Path(path).absolute()))
            where = Path(os.path.normpath(Path(context).absolute())) if context else None
            spec = BuildSpec(
                dockerfile=dockerfile,
                context=where if where is not None else dockerfile.parent,
                target=target,
                build_args=dict(build_args or {}),
                platform=platform,
                build_contexts=build_contexts_value(build_contexts, Path.cwd(), "build()"),
            )
        if self.builder is None:
            raise UsageError(
                f"cannot build {spec.dockerfile}: this factory has no builder",
                hint="use the image_factory fixture, which builds with the embedded executor",
            )
        tarball = self.builder.build(spec)
        return self.open(tarball, platform=spec.platform, origin=spec.origin)

    def build_log(self, error: BaseException) -> str | None:
        """The whole build log behind a build failure, for the report section."""
        return self.builder.log_of(error) if self.builder is not None else None

    def get(self, source: ImageSource) -> Image:
        """Open a :class:`TarballSource` or build a :class:`BuildSpec`."""
        __tracebackhide__ = True
        if isinstance(source, BuildSpec):
            return self.build(source)
        return self.open(source.path, platform=source.platform, origin=source.origin)

    def path_of(self, image: Image) -> Path | None:
        """The file an image was opened from, if this factory opened it."""
        return self._paths.get(id(image))

    def close(self) -> None:
        """Close every image opened so far; the factory stays usable."""
        images = list(self._open.values())
        self._open.clear()
        self._paths.clear()
        for image in images:
            image.close()

    def _load(self, path: Path, platform: str | None) -> Image:
        __tracebackhide__ = True
        index_cache = self._index_cache
        if index_cache is not None:
            index_cache.mkdir(parents=True, exist_ok=True)
        try:
            opened = Image.open(path, platform=platform, index_cache=index_cache)
            opened.runner = self.runner
            return opened
        except ImageFormatError as error:
            # The file is at fault, not the code that read it: show the message, not
            # the reader's frames.
            message = error.message if str(path) in error.message else f"{path}: {error.message}"
            hint = _platform_hint(path) or error.hint or _FORMATS
            raise ImageFormatError(message, location=error.location, hint=hint) from None
        except (tarfile.TarError, EOFError) as error:
            raise ImageFormatError(
                f"{path}: not a readable image archive ({error})", hint=_FORMATS
            ) from None


def _platform_hint(path: Path) -> str | None:
    """For a multi-platform image, say how to choose a platform."""
    try:
        platforms = Image.platforms(path)
    except ImageFormatError:
        return None
    if len(platforms) < 2:
        return None
    return (
        f"it holds {', '.join(platforms)}: choose one with --imagebuild-platform, the "
        "imagebuild_platform ini key or @pytest.mark.dockerfile(platform=...)"
    )
