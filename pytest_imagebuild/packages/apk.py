"""apk's database: ``lib/apk/db/installed``, one block of ``X:value`` lines per package."""

from __future__ import annotations

from collections.abc import Iterator

from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.dbfile import read_db
from pytest_imagebuild.packages.model import Package

__all__ = ["read_apk"]

INSTALLED = "/lib/apk/db/installed"


def _package(fields: dict[str, str], path: str) -> Package | None:
    name, version = fields.get("P"), fields.get("V")
    if not name or not version:
        return None
    return Package(
        name=name,
        version=version,
        ecosystem="apk",
        path=path,
        arch=fields.get("A"),
        source=fields.get("o") or name,
        license=fields.get("L"),
    )


def parse_installed(text: str, path: str) -> Iterator[Package]:
    """The packages in an apk ``installed`` file's text. Only the first of each key in a
    block counts: file entries (F:, R:, Z:) repeat, the package keys do not."""
    fields: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            package = _package(fields, path)
            if package is not None:
                yield package
            fields = {}
        elif len(line) >= 2 and line[1] == ":":
            fields.setdefault(line[0], line[2:])


def read_apk(image: Image) -> list[Package]:
    text = read_db(image, INSTALLED)
    return [] if text is None else list(parse_installed(text, INSTALLED))
