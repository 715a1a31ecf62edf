"""Image outputs: docker-archive tarballs, OCI layouts, digest files."""

from __future__ import annotations

from .digests import write_digest_file, write_name_tag_with_digest_file, write_name_with_digest_file
from .docker_archive import ArchiveLayer, write_docker_archive
from .oci_layout import LayoutLayer, build_manifest, write_oci_layout

__all__ = [
    "ArchiveLayer",
    "LayoutLayer",
    "build_manifest",
    "write_digest_file",
    "write_docker_archive",
    "write_name_tag_with_digest_file",
    "write_name_with_digest_file",
    "write_oci_layout",
]
