"""``Image``: open an image tarball or layout and read its config and files."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pytest_imagebuild import oci
from pytest_imagebuild.errors import ImageFormatError, UsageError
from pytest_imagebuild.image import config as cfg
from pytest_imagebuild.image.archive import ImageRef, find_image, list_platforms
from pytest_imagebuild.image.cache import store_index
from pytest_imagebuild.image.config import Healthcheck, HistoryEntry
from pytest_imagebuild.image.content import LayerData
from pytest_imagebuild.image.file import File
from pytest_imagebuild.image.filesystem import Filesystem
from pytest_imagebuild.image.invocation import DEFAULT_TIMEOUT, CommandRunner, RunResult, resolve
from pytest_imagebuild.image.layer import Indexed, Layer, LayerIndexer
from pytest_imagebuild.image.source import Source, open_source
from pytest_imagebuild.image.stream import BlobRef, Limits
from pytest_imagebuild.image.tarindex import Member

if TYPE_CHECKING:
    from pytest_imagebuild.diff import ImageDiff
    from pytest_imagebuild.packages import Packages

__all__ = ["Image"]

MEDIA_TYPES = {
    ("docker", "none"): oci.DOCKER_LAYER,
    ("docker", "gzip"): oci.DOCKER_LAYER_GZIP,
    ("docker", "zstd"): oci.OCI_LAYER_ZSTD,
    ("oci", "none"): oci.OCI_LAYER,
    ("oci", "gzip"): oci.OCI_LAYER_GZIP,
    ("oci", "zstd"): oci.OCI_LAYER_ZSTD,
}
ENTRY_KINDS = {
    "f": "file",
    "h": "hardlink",
    "l": "symlink",
    "d": "dir",
    "c": "char",
    "b": "block",
    "p": "fifo",
    "w": "whiteout",
    "o": "opaque",
}


class Image:
    """An image read in place: config values and a merged, read-only filesystem."""

    def __init__(
        self, source: Source, ref: ImageRef, limits: Limits, index_cache: Path | None
    ) -> None:
        self._source = source
        self._ref = ref
        self.config: dict[str, Any] = ref.config
        self._run = cfg.runtime(ref.config)
        self.history: tuple[HistoryEntry, ...] = cfg.parse_history(ref.config)
        self.layers: tuple[Layer, ...] = ()
        self.runner: CommandRunner | None = None  # set by the plugin's image_factory
        self.warnings: tuple[str, ...] = ()  # what reading the layers passed over
        self._fs = self._load_layers(limits, index_cache)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        platform: str | None = None,
        index_cache: Path | None = None,
        max_expansion: float = 100.0,
        expansion_floor: int = 1 << 30,
    ) -> Image:
        """Open a docker-archive tar, an OCI layout directory or an OCI archive.

        Layers are indexed (and verified against their digests) here; with
        ``index_cache`` each layer's index is kept on disk by digest. A layer that
        decompresses past ``max_expansion`` x its size and past ``expansion_floor``
        bytes is refused as a decompression bomb.
        """
        source = open_source(os.fspath(path))
        try:
            ref = find_image(source, platform)
            return cls(source, ref, Limits(max_expansion, expansion_floor), index_cache)
        except BaseException:
            source.close()
            raise

    @staticmethod
    def platforms(path: str | os.PathLike[str]) -> tuple[str, ...]:
        """The platforms of the images in ``path``, such as ("linux/amd64", "linux/arm64/v8")."""
        source = open_source(os.fspath(path))
        try:
            return list_platforms(source)
        finally:
            source.close()

    def _load_layers(self, limits: Limits, index_cache: Path | None) -> Filesystem:
        diff_ids = cfg.diff_ids(self.config)
        refs = self._ref.layers
        if len(diff_ids) != len(refs):
            raise ImageFormatError(
                f"image {self._source.path}: the manifest lists {len(refs)} layers "
                f"but the config has {len(diff_ids)} diff_ids"
            )
        created = [h.created_by for h in self.history if not h.empty_layer]
        flavour = "docker" if self._ref.manifest_media_type == oci.DOCKER_MANIFEST else "oci"
        layers: list[Layer] = []
        members: list[list[Member]] = []
        data: list[LayerData] = []
        notes: list[str] = []
        with LayerIndexer(limits, index_cache) as indexer:
            jobs = []
            for ref, diff_id in zip(refs, diff_ids, strict=True):
                fd = self._source.fd(ref.blob.path)
                jobs.append(indexer.start(fd, ref.blob, ref.digest or diff_id))
            for i, (ref, diff_id, job) in enumerate(zip(refs, diff_ids, jobs, strict=True)):
                index = indexer.finish(job)
                if index.diff_id != diff_id:
                    raise ImageFormatError(
                        f"layer {ref.blob.name} has diff_id {index.diff_id}, "
                        f"the config says {diff_id}"
                    )
                if ref.digest is not None and index.digest != ref.digest:
                    raise ImageFormatError(
                        f"blob {ref.blob.name} has digest {index.digest}, expected {ref.digest}"
                    )
                indexer.store(job, index)  # only now: its digests are verified
                layers.append(
                    Layer(
                        index=i,
                        digest=index.digest,
                        diff_id=diff_id,
                        size=ref.blob.size,
                        media_type=ref.media_type or MEDIA_TYPES[flavour, index.compression],
                        created_by=created[i] if i < len(created) else "",
                    )
                )
                members.append(index.members)
                notes += [f"layer {i}: {note}" for note in index.notes]
                data.append(self._data(job.fd, ref.blob, index, limits, index_cache, job.key))
        self.layers = tuple(layers)
        self.warnings = tuple(notes)
        return Filesystem(self.layers, members, data)

    @staticmethod
    def _data(
        fd: int, blob: BlobRef, index: Indexed, limits: Limits, cache: Path | None, key: str | None
    ) -> LayerData:
        store = None
        if cache is not None and key is not None:
            cache_dir, cache_key = cache, key

            def store(entries: list[Member]) -> None:
                store_index(cache_dir, cache_key, blob.size, index._replace(members=entries))

        return LayerData(fd, blob, index.compression, limits, index.members, store)

    def layer_blob(self, layer_index: int) -> Iterator[bytes]:
        """The stored (possibly compressed) bytes of one layer, in chunks."""
        blob = self._ref.layers[layer_index].blob
        return blob.raw_chunks(self._source.fd(blob.path), None)

    def run(
        self,
        command: Sequence[str] | str | None = None,
        *,
        entrypoint: Sequence[str] | str | None = None,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        stdin: bytes | str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        stderr: str = "pipe",
    ) -> RunResult:
        """Run a command in the image's filesystem as ``docker run IMAGE [ARGS]`` would
        (see ``invocation.resolve``), in a throwaway writable view of the image.
        ``stderr="stdout"`` merges standard error into stdout (``2>&1``)."""
        if self.runner is None:
            raise UsageError(
                f"{self!r} has no command runner: Image.run needs the sandbox",
                hint="open the image through the image_factory or image fixture, or set "
                "image.runner = pytest_imagebuild.plugin.runner.SandboxRunner(cache_dir)",
            )
        invocation = resolve(
            self,
            command,
            entrypoint=entrypoint,
            user=user,
            env=env,
            workdir=workdir,
            stdin=stdin,
            timeout=timeout,
            stderr=stderr,
        )
        return self.runner.execute(self, [invocation])[0]

    def close(self) -> None:
        """Close the image's files; file digests computed meanwhile go to the index cache."""
        for data in self._fs.data:
            data.flush()
        self._source.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Image {self._source.path} {self.id[:19]}>"

    # Config values.

    @property
    def env(self) -> dict[str, str]:
        return cfg.parse_env(self._run)

    @property
    def entrypoint(self) -> tuple[str, ...] | None:
        return cfg.strs(self._run, "Entrypoint")

    @property
    def cmd(self) -> tuple[str, ...] | None:
        return cfg.strs(self._run, "Cmd")

    @property
    def shell(self) -> tuple[str, ...] | None:
        return cfg.strs(self._run, "Shell")

    @property
    def onbuild(self) -> tuple[str, ...]:
        return cfg.strs(self._run, "OnBuild") or ()

    @property
    def user(self) -> str:
        return str(self._run.get("User") or "")

    @property
    def workdir(self) -> str:
        return str(self._run.get("WorkingDir") or "")

    @property
    def labels(self) -> dict[str, str]:
        return cfg.labels(self._run)

    @property
    def exposed_ports(self) -> tuple[str, ...]:
        return cfg.keys(self._run, "ExposedPorts")

    @property
    def volumes(self) -> tuple[str, ...]:
        return cfg.keys(self._run, "Volumes")

    @property
    def healthcheck(self) -> Healthcheck | None:
        return cfg.parse_healthcheck(self._run)

    @property
    def stop_signal(self) -> str | None:
        value = self._run.get("StopSignal")
        return str(value) if value else None

    @property
    def os(self) -> str:
        return str(self.config.get("os") or "")

    @property
    def architecture(self) -> str:
        return str(self.config.get("architecture") or "")

    @property
    def variant(self) -> str | None:
        value = self.config.get("variant")
        return str(value) if value else None

    @property
    def created(self) -> str | None:
        value = self.config.get("created")
        return str(value) if value else None

    @property
    def id(self) -> str:
        return self._ref.config_digest

    @property
    def digest(self) -> str | None:
        return self._ref.digest

    @property
    def manifest_media_type(self) -> str:
        return self._ref.manifest_media_type

    @property
    def config_media_type(self) -> str:
        return self._ref.config_media_type

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self._ref.annotations)

    @property
    def repo_tags(self) -> tuple[str, ...]:
        return self._ref.repo_tags

    # Filesystem.

    def file(self, path: str, *, follow_symlinks: bool = False) -> File:
        """The path in the merged view; symlinks in parent components are followed in the
        image root; the last component only with ``follow_symlinks``."""
        return self._fs.file(path, follow_symlinks)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._fs.file(path).exists

    def listdir(self, path: str) -> list[str]:
        return self._fs.listdir(path)

    def glob(self, pattern: str, *, all_layers: bool = False) -> list[str]:
        return self._fs.glob(pattern, all_layers)

    def walk(self) -> Iterator[File]:
        return self._fs.walk()

    def layer_files(self, layer_index: int) -> list[File]:
        if not 0 <= layer_index < len(self.layers):
            raise IndexError(f"layer index {layer_index} out of range 0..{len(self.layers) - 1}")
        return self._fs.layer_files(layer_index)

    def diff(
        self,
        other: Image,
        *,
        ignore: tuple[str, ...] | list[str] = (),
        semantic: bool = False,
        only: tuple[str, ...] | list[str] | None = None,
    ) -> ImageDiff:
        """What changed from this image to ``other``: ``pytest_imagebuild.diff.diff``."""
        from pytest_imagebuild.diff import diff  # diff/ builds on image/, not the reverse

        return diff(self, other, ignore=ignore, semantic=semantic, only=only)

    def layer_entries(self, layer_index: int) -> list[tuple[str, str, int, str]]:
        """The tar entries of one layer, in tar order, as ``(path, kind, size, link)``: kind
        is "file", "hardlink", "symlink", "dir", "char", "block", "fifo", "whiteout" (path
        is the deleted one) or "opaque" (path is the directory); size is the tar header's,
        so only regular files have one; link is a symlink's target or a hardlink's path."""
        if not 0 <= layer_index < len(self.layers):
            raise IndexError(f"layer index {layer_index} out of range 0..{len(self.layers) - 1}")
        return [
            ("/" + m.name, ENTRY_KINDS[m.kind], m.size, "/" + m.link if m.kind == "h" else m.link)
            for m in self._fs.members[layer_index]
        ]

    # Installed packages.

    @cached_property
    def packages(self) -> Packages:
        """Installed packages (dpkg, apk, rpm, Python, npm) read from the merged view, once."""
        # The packages library builds on image/; importing it here, not at module top,
        # keeps image/ free of a cycle while ``image.packages`` stays one attribute away.
        from pytest_imagebuild.packages import read_packages

        return read_packages(self)
