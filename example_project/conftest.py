"""Makes the example's base image offline: base/busybox-rootfs.tar from busybox-static.

The tarball is the same bytes every time (sorted entries, fixed times and owners), so the
image's cache key only changes when busybox itself does. It is written to a temp name and
renamed, so xdist workers starting together never see half a file.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

BUSYBOX = Path("/usr/bin/busybox")
ROOTFS = Path(__file__).parent / "base" / "busybox-rootfs.tar"
DIRS = {
    "bin": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "root": 0o700,
    "sbin": 0o755,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/bin": 0o755,
    "usr/local": 0o755,
    "usr/local/bin": 0o755,
    "usr/sbin": 0o755,
    "var": 0o755,
    "var/log": 0o755,
}
FILES = {
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    ),
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
}


def _applets() -> list[str]:
    listed = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted(path for path in listed if path != "bin/busybox")


def rootfs_bytes() -> bytes:
    """A busybox root file system as an uncompressed tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(info: tarfile.TarInfo, data: bytes | None = None) -> None:
            info.mtime, info.uname, info.gname = 0, "root", "root"
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        for name, mode in sorted(DIRS.items()):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            add(info)
        binary = BUSYBOX.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(binary), 0o755
        add(info, binary)
        for applet in _applets():
            info = tarfile.TarInfo(applet)
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "/bin/busybox", 0o777
            add(info)
        for name, text in FILES.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            add(info, data)
    return buffer.getvalue()


def pytest_configure(config: pytest.Config) -> None:
    if not BUSYBOX.is_file():
        raise pytest.UsageError(f"{BUSYBOX} is missing: install busybox-static (scripts/setup)")
    data = rootfs_bytes()
    if ROOTFS.is_file() and ROOTFS.read_bytes() == data:
        return
    ROOTFS.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=ROOTFS.parent, prefix=".rootfs-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, ROOTFS)
