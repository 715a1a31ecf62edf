"""Unpacking inside a single-uid user namespace (the rootless fallback) degrades as documented.

Device nodes and ``trusted.*`` xattrs are skipped and reported; an owner the namespace cannot
represent is recorded for the layer writer (``owners``) on files and directories, and reported
on symlinks, never a silently wrong layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from pytest_imagebuild.builder.fs import owners
from tests.builder.test_fs_common import info, make_tar

UNSHARE = "/usr/bin/unshare"
SCRIPT = """
import json, sys
from pathlib import Path
from typing import Any
from pytest_imagebuild.builder.fs import unpack_layer
from pytest_imagebuild.errors import SandboxError
try:
    report = unpack_layer(Path(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps({"skipped": report.skipped.entries()}))
except SandboxError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def unpack_in_userns(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]
) -> dict[str, Any]:
    layer = tmp_path / "layer.tar"
    layer.write_bytes(make_tar(members))
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    proc = subprocess.run(
        [UNSHARE, "--user", "--map-root-user", sys.executable, "-c", SCRIPT, layer, root],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, f"unshare failed (user namespaces refused?):\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_devices_and_trusted_xattrs_are_skipped(tmp_path: Path) -> None:
    marked = info("marked", pax_headers={"SCHILY.xattr.trusted.note": "x"})
    result = unpack_in_userns(
        tmp_path,
        [
            (info("dev", tarfile.DIRTYPE), None),
            (info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
            (info("dev/fifo", tarfile.FIFOTYPE), None),
            (marked, b"data"),
        ],
    )
    assert result["skipped"] == [
        "dev/null: device node (no CAP_MKNOD)",
        "marked: xattr trusted.note (Operation not permitted)",
    ]
    assert (tmp_path / "root/marked").read_bytes() == b"data"
    assert (tmp_path / "root/dev/fifo").is_fifo()


def test_unmapped_owners_are_recorded_or_reported(tmp_path: Path) -> None:
    forged = info("home/forged.txt", pax_headers={"SCHILY.xattr.user.imagebuild.owner": "7:7"})
    link = info("home/link", tarfile.SYMTYPE, uid=1000, gid=1000)
    link.linkname = "app.txt"
    result = unpack_in_userns(
        tmp_path,
        [
            (info("home", tarfile.DIRTYPE, uid=1000, gid=1000), None),
            (info("home/app.txt", uid=1000, gid=1001), b"x"),
            (link, None),
            (forged, b"y"),
        ],
    )
    assert result["skipped"] == [
        "home/link: owner (1000:1000 has no id in the user namespace; root kept)"
    ]
    root = tmp_path / "root"
    assert os.getxattr(root / "home/app.txt", owners.XATTR) == b"1000:1001"
    assert owners.owner(str(root / "home"), os.lstat(root / "home")) == (1000, 1000)
    forged_path = str(root / "home/forged.txt")
    assert owners.owner(forged_path, os.lstat(forged_path)) == (0, 0)  # a layer cannot set it
