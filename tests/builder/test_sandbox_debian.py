"""A real distribution in the rootless sandbox: Debian minbase, apt dropping to _apt."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builder.rootless import FULL_USER, User, ensure_user, remove_as, run_as, user_dir

pytestmark = pytest.mark.rootless

SNIPPET = """
    import json, os, subprocess
    from pytest_imagebuild.builder import sandbox, userns

    SCRIPT = (
        "set -e; apt-get update -qq; useradd -m app;"
        " setpriv --reuid app --regid app --init-groups id;"
        " stat -c '%U %u' /var/lib/apt/lists/partial; ls /dev/null /proc/1/exe"
    )

    def inside():
        os.makedirs("build/root")
        # device nodes cannot be made in a user namespace; the sandbox brings its own /dev
        subprocess.run(
            ["tar", "-xf", "debian.tar", "-C", "build/root", "--numeric-owner",
             "--exclude=./dev/*"],
            check=True,
        )
        os.unlink("debian.tar")
        out = bytearray()
        code = sandbox.run(
            "build/root", ["/bin/sh", "-c", SCRIPT],
            env={"DEBIAN_FRONTEND": "noninteractive"}, output=out.extend, timeout=240,
        )
        return code, out.decode()

    code, out = userns.run_in_userns(inside)
    info = os.stat("build/root/home/app")
    print(json.dumps({"code": code, "out": out, "home": [info.st_uid, info.st_gid]}))
"""


@pytest.fixture
def debian_dir(debian_rootfs_tar: Path) -> Iterator[tuple[User, Path]]:
    user = ensure_user(FULL_USER, subids=True)
    path = user_dir(user)
    shutil.copyfile(debian_rootfs_tar, path / "debian.tar")
    os.chown(path / "debian.tar", user.uid, user.gid)
    try:
        yield user, path
    finally:
        remove_as(user, path)


def test_apt_and_users_work_rootless_in_debian(debian_dir: tuple[User, Path]) -> None:
    user, path = debian_dir
    result: dict[str, Any] = run_as(user, SNIPPET, path, timeout=300)
    assert result["code"] == 0, result["out"]
    lines = result["out"].splitlines()
    assert "uid=1000(app) gid=1000(app) groups=1000(app)" in lines
    assert "_apt 42" in lines
    assert {"/dev/null", "/proc/1/exe"} <= set(lines)
    assert user.subid_start is not None
    assert result["home"] == [user.subid_start + 999, user.subid_start + 999]
