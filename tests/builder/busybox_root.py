"""A static busybox stage root for sandbox tests (made from the host's busybox-static)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = Path("/usr/bin/busybox")


def make_busybox_root(root: Path) -> Path:
    """Fill ``root`` with busybox, its applet links, /etc/passwd and /etc/group, /tmp."""
    if not BUSYBOX.exists():
        raise RuntimeError("/usr/bin/busybox is missing: apt-get install busybox-static")
    for sub in ("bin", "etc", "tmp", "root"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\nextra:x:2000:\n")
    return root


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Path -> (mode, uid, gid, mtime_ns) for every entry: what a layer snapshot sees."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            found[str(path.relative_to(root))] = (
                info.st_mode,
                info.st_uid,
                info.st_gid,
                info.st_mtime_ns,
            )
    return found
