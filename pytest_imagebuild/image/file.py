"""``File``: what a path in the image is, as a frozen value."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_imagebuild.image.layer import Layer
from pytest_imagebuild.image.mode import Mode

__all__ = ["File"]

NO_MODE = Mode(0)


@dataclass(frozen=True)
class File:
    """A path in the image (merged view or one layer). Missing paths have ``exists`` False,
    type "missing", uid and gid -1."""

    path: str
    exists: bool
    type: str
    linked_to: str | None = None
    mode: Mode = NO_MODE
    uid: int = -1
    gid: int = -1
    user: str | None = None
    group: str | None = None
    size: int = 0
    mtime: int = 0
    sha256: str | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)
    capabilities: str | None = None
    layer: Layer | None = None
    reader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    def __hash__(self) -> int:
        return hash((self.path, self.exists, self.type, int(self.mode), self.sha256))

    @property
    def is_file(self) -> bool:
        return self.type == "file"

    @property
    def is_dir(self) -> bool:
        return self.type == "dir"

    @property
    def is_symlink(self) -> bool:
        return self.type == "symlink"

    def read_bytes(self) -> bytes:
        """The file's content (a symlink is followed inside the image)."""
        if self.reader is None:
            if not self.exists:
                raise FileNotFoundError(f"{self.path} does not exist in the image")
            if self.is_dir:
                raise IsADirectoryError(f"{self.path} is a directory")
            raise OSError(f"{self.path} is a {self.type}, it has no content to read")
        return self.reader()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def contains(self, needle: str | bytes | re.Pattern[str] | re.Pattern[bytes]) -> bool:
        """Whether the content holds a string, bytes, or a regex match. False if unreadable."""
        if self.reader is None:
            return False
        data = self.reader()
        if isinstance(needle, str):
            return needle.encode() in data
        if isinstance(needle, bytes):
            return needle in data
        if isinstance(needle.pattern, str):
            return needle.search(data.decode("utf-8", "surrogateescape")) is not None
        return needle.search(data) is not None
