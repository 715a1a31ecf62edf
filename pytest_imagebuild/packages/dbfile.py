"""Read one package database file out of an image, with a size limit; find the files of
the ecosystems that keep one per package."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image import Image
from pytest_imagebuild.image.pathglob import compile_glob

__all__ = ["MAX_DB_BYTES", "find_paths", "read_db"]

# A package database larger than this is refused rather than read into memory.
MAX_DB_BYTES = 256 << 20


def read_db(image: Image, path: str) -> str | None:
    """The text of ``path`` in the merged view (symlinks followed inside the image),
    None when there is no regular file there."""
    file = image.file(path, follow_symlinks=True)
    if not file.exists or not file.is_file:
        return None
    if file.size > MAX_DB_BYTES:
        raise ImageFormatError(
            f"package database {path} is {file.size} bytes, over the {MAX_DB_BYTES} byte limit",
            hint="the image's package database looks corrupt or hostile",
        )
    return file.read_bytes().decode("utf-8", "replace")


def find_paths(image: Image, patterns: Sequence[str], needles: Sequence[str]) -> list[str]:
    """Sorted paths (with a leading "/") of the merged view that match any of ``patterns``
    (``image.glob`` syntax), found in one walk. Only a path holding one of ``needles`` is
    matched against the patterns: on a 67k-path image, eight ``image.glob`` calls cost
    seconds, this one walk a tenth of one."""
    matchers = [compile_glob(pattern).fullmatch for pattern in patterns]
    found = []
    for path, _ in image._fs.tree.walk():  # the read side's own tree, as image.glob walks it
        if any(needle in path for needle in needles) and any(m(path[1:]) for m in matchers):
            found.append(path)
    return sorted(found)
