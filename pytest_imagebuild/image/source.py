"""Where blobs live: members of a tar archive, or files of an OCI layout directory."""

from __future__ import annotations

import os
import re
import stat

from pytest_imagebuild.errors import ImageFormatError, Location
from pytest_imagebuild.image.stream import BlobRef, compression_of
from pytest_imagebuild.image.tarindex import Member, iter_members
from pytest_imagebuild.image.tarreader import FileReader

__all__ = ["Source", "open_source"]

DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
MAX_JSON = 64 << 20
MAX_HOPS = 40


class Source:
    """Named blobs of an image, each readable as a byte range of some file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fds: dict[str, int] = {}
        self.members: dict[str, Member] = {}
        self.is_dir = os.path.isdir(path)
        if not self.is_dir:
            self._scan_tar()

    def fd(self, path: str) -> int:
        if path not in self.fds:
            self.fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return self.fds[path]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _scan_tar(self) -> None:
        try:
            fd = self.fd(self.path)
            size = os.fstat(fd).st_size
        except OSError as exc:
            raise ImageFormatError(f"cannot open image {self.path}: {exc.strerror}") from None
        head = os.pread(fd, 4, 0)
        if compression_of(head) != "none":
            raise ImageFormatError(
                f"image archive {self.path} is compressed",
                hint="decompress it first (docker load accepts it, this reader wants a plain tar)",
            )
        for m in iter_members(FileReader(fd, 0, size, f"archive {self.path}"), False):
            name = "/".join(p for p in m.name.split("/") if p and p != ".")
            self.members[name] = m

    def has(self, name: str) -> bool:
        try:
            self.blob(name)
        except ImageFormatError:
            return False
        return True

    def blob(self, name: str) -> BlobRef:
        """The blob stored under ``name`` (an archive member or a layout file)."""
        if self.is_dir:
            return self._file_blob(name)
        return self._member_blob(name)

    def digest_blob(self, digest: str) -> BlobRef:
        """The blob ``blobs/<algorithm>/<hex>`` for a digest, checking the digest's form."""
        match = DIGEST.match(digest)
        if not match:
            raise ImageFormatError(f"invalid digest {digest!r} in image {self.path}")
        return self.blob(f"blobs/{match.group(1)}/{match.group(2)}")

    def read(self, name: str) -> bytes:
        ref = self.blob(name)
        if ref.size > MAX_JSON:
            raise ImageFormatError(f"{name} in {self.path} is too large ({ref.size} bytes)")
        return ref.pread(self.fd(ref.path), 0, ref.size)

    def _file_blob(self, name: str) -> BlobRef:
        parts = [p for p in name.split("/") if p and p != "."]
        if ".." in parts or not parts:
            raise ImageFormatError(f"blob name {name!r} leaves the layout {self.path}")
        full = os.path.join(self.path, *parts)
        try:
            st = os.stat(full)
        except OSError:
            raise ImageFormatError(
                f"blob {name} is missing from {self.path}", location=Location(self.path)
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise ImageFormatError(f"blob {name} in {self.path} is not a regular file")
        return BlobRef(full, 0, st.st_size, name)

    def _member_blob(self, name: str) -> BlobRef:
        path = "/".join(p for p in name.split("/") if p and p != ".")
        for _ in range(MAX_HOPS):
            m = self.members.get(path)
            if m is None:
                raise ImageFormatError(
                    f"blob {name} is missing from archive {self.path}",
                    location=Location(self.path),
                )
            if m.kind == "f":
                return BlobRef(self.path, m.offset, m.size, name)
            if m.kind == "l":
                base = path.rpartition("/")[0] if not m.link.startswith("/") else ""
                path = _join(base, m.link)
            elif m.kind == "h":
                path = _join("", m.link)
            else:
                raise ImageFormatError(f"member {name} of {self.path} is not a file")
        raise ImageFormatError(f"member {name} of {self.path} is a symlink loop")


def _join(base: str, link: str) -> str:
    parts = [p for p in base.split("/") if p]
    for p in link.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    return "/".join(parts)


def open_source(path: str) -> Source:
    """Open a layout directory or an archive file (never a fifo or device: no hangs)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise ImageFormatError(f"image {path} does not exist") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise ImageFormatError(f"image {path} is neither a directory nor a regular file")
    return Source(path)
