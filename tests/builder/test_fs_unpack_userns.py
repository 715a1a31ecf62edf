"""Unpacking inside a single-uid user namespace (the rootless fallback) degrades as documented.

Device nodes and ``trusted.*`` xattrs are skipped and reported; an owner the namespace cannot
represent is a SandboxError with the /etc/subuid hint, never a silently wrong layer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

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


def test_unmapped_owner_is_a_sandbox_error(tmp_path: Path) -> None:
    result = unpack_in_userns(
        tmp_path,
        [(info("home", tarfile.DIRTYPE), None), (info("home/app.txt", uid=1000, gid=1000), b"x")],
    )
    assert "cannot give 'home/app.txt' owner 1000:1000" in result["error"]
    assert "/etc/subuid" in result["error"]
