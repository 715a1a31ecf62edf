"""Read one package database file out of an image, with a size limit."""

from __future__ import annotations

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image import Image

__all__ = ["MAX_DB_BYTES", "read_db"]

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
