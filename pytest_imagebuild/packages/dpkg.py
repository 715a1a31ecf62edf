"""dpkg's database: ``var/lib/dpkg/status`` and distroless ``var/lib/dpkg/status.d/*``."""

from __future__ import annotations

from collections.abc import Iterator

from debian.deb822 import Deb822

from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.dbfile import read_db
from pytest_imagebuild.packages.model import Package

__all__ = ["read_dpkg"]

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"


def _installed(paragraph: Deb822) -> bool:
    # "install ok installed"; distroless status.d entries carry no Status field at all.
    status = paragraph.get("Status")
    return status is None or status.split()[-1:] == ["installed"]


def _source(paragraph: Deb822) -> str | None:
    # "Source: openssl" or "Source: openssl (3.0.11-1)"; absent when it equals Package.
    value = paragraph.get("Source")
    return value.split()[0] if value else None


def parse_status(text: str, path: str) -> Iterator[Package]:
    """The installed packages in one status file's text."""
    for paragraph in Deb822.iter_paragraphs(text.splitlines(), use_apt_pkg=False):
        name, version = paragraph.get("Package"), paragraph.get("Version")
        if not name or not version or not _installed(paragraph):
            continue
        yield Package(
            name=name,
            version=version,
            ecosystem="dpkg",
            path=path,
            arch=paragraph.get("Architecture"),
            source=_source(paragraph) or name,
        )


def read_dpkg(image: Image) -> list[Package]:
    found: list[Package] = []
    text = read_db(image, STATUS)
    if text is not None:
        found.extend(parse_status(text, STATUS))
    status_d = image.file(STATUS_D, follow_symlinks=True)
    if status_d.is_dir:
        for name in sorted(image.listdir(STATUS_D)):
            if name.endswith(".md5sums"):
                continue
            path = f"{STATUS_D}/{name}"
            entry = read_db(image, path)
            if entry is not None:
                found.extend(parse_status(entry, path))
    return found
