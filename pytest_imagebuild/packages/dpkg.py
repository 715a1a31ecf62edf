"""dpkg's database: ``var/lib/dpkg/status`` and distroless ``var/lib/dpkg/status.d/*``."""

from __future__ import annotations

from collections.abc import Iterator

from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.dbfile import read_db
from pytest_imagebuild.packages.model import Package

__all__ = ["read_dpkg"]

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"


def paragraphs(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs: ``Field: value`` lines, continuation lines indented, blank
    lines between paragraphs. A line that is neither is skipped, as is a paragraph's
    second spelling of a field; the paragraphs around it still count."""
    fields: dict[str, str] = {}
    last: str | None = None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                fields[last] += "\n" + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            if last in fields:
                last = None
            else:
                fields[last] = value.strip()
        else:
            last = None


def _installed(paragraph: dict[str, str], distroless: bool) -> bool:
    # "install ok installed"; distroless status.d entries carry no Status field at all.
    status = paragraph.get("status")
    if status is None:
        return distroless
    return status.split()[-1:] == ["installed"]


def _source(paragraph: dict[str, str]) -> str | None:
    # "Source: openssl" or "Source: openssl (3.0.11-1)"; absent when it equals Package.
    value = paragraph.get("source")
    return value.split()[0] if value else None


def parse_status(text: str, path: str, distroless: bool = False) -> Iterator[Package]:
    """The installed packages in one status file's text (``distroless``: a status.d
    entry, where a paragraph without Status is installed)."""
    for paragraph in paragraphs(text):
        name, version = paragraph.get("package"), paragraph.get("version")
        if not name or not version or not _installed(paragraph, distroless):
            continue
        yield Package(
            name=name,
            version=version,
            ecosystem="dpkg",
            path=path,
            arch=paragraph.get("architecture"),
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
                found.extend(parse_status(entry, path, distroless=True))
    return found
