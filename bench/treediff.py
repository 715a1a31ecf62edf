"""The reference for the diff rows: ``docker export | tar -x`` of both images, then a plain
Python walk comparing type, mode, owner, size, link target and (same-size files) sha256.

``python bench/treediff.py IMAGE_A IMAGE_B SCRATCH`` prints the number of differing paths.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path


def export(ref: str, dest: Path) -> None:
    dest.mkdir(parents=True)
    name = subprocess.run(
        ["docker", "create", ref, "true"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        docker = subprocess.Popen(["docker", "export", name], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(dest)], stdin=docker.stdout, check=True)
        docker.wait()
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def tree(root: Path) -> dict[str, os.stat_result]:
    out = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            out[path[len(str(root)) :]] = os.lstat(path)
    return out


def sha(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def main(a: str, b: str, scratch: Path) -> int:
    shutil.rmtree(scratch, ignore_errors=True)
    export(a, scratch / "a")
    export(b, scratch / "b")
    left, right = tree(scratch / "a"), tree(scratch / "b")
    differ = len(left.keys() ^ right.keys())
    for path in left.keys() & right.keys():
        x, y = left[path], right[path]
        fields = (stat.S_IFMT(x.st_mode), x.st_mode & 0o7777, x.st_uid, x.st_gid, x.st_size)
        if fields != (stat.S_IFMT(y.st_mode), y.st_mode & 0o7777, y.st_uid, y.st_gid, y.st_size):
            differ += 1
        elif stat.S_ISLNK(x.st_mode):
            differ += os.readlink(scratch / "a" / path[1:]) != os.readlink(scratch / "b" / path[1:])
        elif stat.S_ISREG(x.st_mode) and sha(scratch / "a" / path[1:]) != sha(
            scratch / "b" / path[1:]
        ):
            differ += 1
    shutil.rmtree(scratch, ignore_errors=True)
    print(differ)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
