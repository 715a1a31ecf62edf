"""Everything a build needs to know, as one frozen value mirroring kaniko's flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuildOptions"]


@dataclass(frozen=True)
class BuildOptions:
    """The inputs of one build.

    ``context`` takes kaniko's forms: a directory, ``dir://DIR``, ``tar://FILE.tar.gz`` or
    ``tar://stdin``. ``dockerfile`` is tried as given (absolute, or relative to the current
    directory), then relative to the context; without one, the context's ``Dockerfile``.
    ``build_args`` values of ``None`` are declared-but-unset arguments (kaniko's bare
    ``--build-arg K`` with no such variable).
    ``keep_build_dir`` (not a kaniko flag) leaves the build directory in place and prints
    its path. ``build_contexts`` are BuildKit's named contexts (``name``, ``value``) as given
    to ``--build-context`` (see ``builder.contexts``).
    """

    context: str = "."
    dockerfile: str | None = None  # None: the context's own Dockerfile
    destinations: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str | None], ...] = ()
    target: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    no_push: bool = False
    tar_path: Path | None = None
    oci_layout_path: Path | None = None
    digest_file: Path | None = None
    image_name_with_digest_file: Path | None = None
    image_name_tag_with_digest_file: Path | None = None
    skip_unused_stages: bool = True
    single_snapshot: bool = False
    ignore_paths: tuple[str, ...] = ()
    custom_platform: str | None = None
    insecure: bool = False
    insecure_pull: bool = False
    skip_tls_verify: bool = False
    skip_tls_verify_pull: bool = False
    registry_mirrors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    skip_tls_verify_registries: tuple[str, ...] = ()
    registry_certificates: tuple[tuple[str, Path], ...] = ()
    client_certs: tuple[tuple[str, Path, Path], ...] = ()  # --registry-client-cert
    registry_map: tuple[tuple[str, tuple[str, ...]], ...] = ()  # original -> mirrors
    skip_default_registry_fallback: bool = False
    docker_config: Path | None = None
    cache: bool = False
    cache_dir: Path | None = None
    cache_repo: str | None = None
    cache_ttl: str = "336h"
    cache_copy_layers: bool = False
    root_store_size: int = 10 << 30  # bytes of unpacked bases kept in <cache dir>/roots; 0: none
    cache_run_layers: bool = True
    no_push_cache: bool = False
    secrets: tuple[tuple[str, Path], ...] = ()
    ssh: tuple[tuple[str, tuple[Path, ...]], ...] = ()  # --ssh id -> socket or key files
    build_root: Path | None = None
    keep_build_dir: bool = False
    push_retries: int = 0  # kaniko's --push-retry: whole pushes tried again after a failure
    pull_retries: int = 0  # kaniko's --image-download-retry, for base images
    jobs: int = 0
    created: str | None = None
    # SOURCE_DATE_EPOCH (BuildKit's meaning; kaniko's --reproducible is 0): the image's and
    # the history's times are it, and no file in a layer this build writes is newer
    source_date_epoch: int | None = None
    # kaniko's --compression and --compression-level: the layers this build writes are
    # compressed so, in pushes and in the OCI layout; None: gzip when pushing, else none
    compression: str | None = None
    compression_level: int | None = None
    build_contexts: tuple[tuple[str, str], ...] = ()

    def build_arg_map(self) -> dict[str, str | None]:
        """The ``--build-arg`` values by name, the last occurrence winning."""
        return dict(self.build_args)

    def label_map(self) -> dict[str, str]:
        return dict(self.labels)
