"""``File``: what a path in the image is, as a frozen value."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_imagebuild.image.layer import Layer
from pytest_imagebuild.image.mode import Mode

__all__ = ["File"]

NO_MODE = Mode(0)


@dataclass(frozen=True, eq=False)
class File:
    """A path in the image (merged view or one layer). Missing paths have ``exists`` False,
    type "missing", uid and gid -1.

    ``sha256`` (regular files only) is computed on first use and kept by the image, so
    listing files never reads their contents. Equality compares every value including
    ``sha256``."""

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
    xattrs: dict[str, bytes] = field(default_factory=dict)
    capabilities: str | None = None
    layer: Layer | None = None
    reader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    hasher: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    @property
    def sha256(self) -> str | None:
        """Hex sha256 of the content (regular files and hardlinks), else None."""
        return self.hasher() if self.hasher is not None else None

    def _values(self) -> tuple[object, ...]:
        return (
            self.path,
            self.exists,
            self.type,
            self.linked_to,
            self.mode,
            self.uid,
            self.gid,
            self.user,
            self.group,
            self.size,
            self.mtime,
            self.sha256,
            self.xattrs,
            self.capabilities,
            self.layer,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, File):
            return NotImplemented
        return self is other or self._values() == other._values()

    def __hash__(self) -> int:
        # sha256 is left out (equal files hash alike all the same): hashing a File
        # should not read its content.
        return hash((self.path, self.exists, self.type, int(self.mode)))

    def __repr__(self) -> str:
        shown = ("path", "exists", "type", "linked_to", "mode", "uid", "gid", "user", "group")
        more = ("size", "mtime", "sha256", "xattrs", "capabilities", "layer")
        return f"File({', '.join(f'{n}={getattr(self, n)!r}' for n in shown + more)})"

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
