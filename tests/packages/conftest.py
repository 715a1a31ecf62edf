"""Images with real package databases, built by the embedded executor from the suite's
Debian and busybox bases: dpkg and apt write the Debian one, pip and setuptools the
Python trees; apk has no tool on Debian, so its database is written by hand."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image

DEBIAN_DOCKERFILE = """\
FROM scratch
ADD debian.tar /
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libpopt0 libgdbm6 \\
    && rm -rf /var/lib/apt/lists/*
RUN dpkg --purge libgdbm6
"""

# The fields apk writes for each package (apk-tools' database format, apk v2).
APK_INSTALLED = """\
C:Q1abcdefghijklmnopqrstuvwxyz0=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407793
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1700000000
c:ab7a3d8b0f0e8f1e6f31d0d4d8f4c0e9d2a7e1b2
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1Mu7ZzWq5bq9mX2oVn1k2z3bE4iY=

C:Q1zyxwvutsrqponmlkjihgfedcba0=
P:busybox-binsh
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:bin
R:sh
"""


def _build(context: Path, out: Path) -> Path:
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=out,
            destinations=(f"imagebuild-test/{out.stem}:1",),
            cache_dir=out.parent / f"{out.stem}-cache",
        ),
        verbose=False,
    )
    return out


def _run(*cmd: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="session")
def debian_packages_tar(debian_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Debian minbase with libpopt0 and libgdbm6 installed by apt, then libgdbm6 purged
    by dpkg in a later layer; built by the executor."""
    context = tmp_path_factory.mktemp("debian-packages")
    try:
        os.link(debian_rootfs_tar, context / "debian.tar")
    except OSError:
        shutil.copyfile(debian_rootfs_tar, context / "debian.tar")
    (context / "Dockerfile").write_text(DEBIAN_DOCKERFILE)
    out = _build(context, context.parent / "debian-packages.tar")
    (context / "debian.tar").unlink()
    return out


@pytest.fixture(scope="session")
def debian_packages(debian_packages_tar: Path) -> Iterator[Image]:
    with Image.open(debian_packages_tar) as image:
        yield image


def _python_tree(root: Path) -> None:
    """A site-packages written by pip (dist-info) and setuptools (egg-info)."""
    site = root / "usr/lib/python3.11/site-packages"
    _run(
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
        "--disable-pip-version-check", "--target", str(site), "six==1.16.0", "idna==3.6",
    )  # fmt: skip
    project = root.parent / "eggdemo"
    project.mkdir()
    (project / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='Egg_Demo', version='0.3.post1', license='MIT', py_modules=[])\n"
    )
    _run(sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(site), cwd=project)


DISTROLESS_PACKAGES = ("base-files", "libc6", "tzdata")


def _status_d(debian_rootfs: Path, dest: Path) -> None:
    """One file per package, Status line dropped, as distroless images ship them."""
    dest.mkdir()
    text = (debian_rootfs / "var/lib/dpkg/status").read_text()
    for paragraph in text.split("\n\n"):
        lines = paragraph.strip().splitlines()
        name = lines[0].removeprefix("Package: ") if lines else ""
        if name in DISTROLESS_PACKAGES:
            body = "\n".join(line for line in lines if not line.startswith("Status:"))
            (dest / name).write_text(body + "\n")
            (dest / f"{name}.md5sums").write_text("d41d8cd98f00b204e9800998ecf8427e  x\n")


@pytest.fixture(scope="session")
def busybox_packages_tar(
    busybox_rootfs: Path, debian_rootfs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """busybox with an apk database, Python distributions and a distroless-style
    ``status.d`` made from the real dpkg status paragraphs of the Debian base."""
    context = tmp_path_factory.mktemp("busybox-packages")
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(context / "rootfs")], check=True)
    extra = context / "extra"
    (extra / "lib/apk/db").mkdir(parents=True)
    (extra / "lib/apk/db/installed").write_text(APK_INSTALLED)
    _python_tree(extra)
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\nCOPY extra/ /\nCOPY status.d/ /var/lib/dpkg/status.d/\n"
    )
    _status_d(debian_rootfs, context / "status.d")
    return _build(context, context.parent / "busybox-packages.tar")


@pytest.fixture(scope="session")
def busybox_packages(busybox_packages_tar: Path) -> Iterator[Image]:
    with Image.open(busybox_packages_tar) as image:
        yield image


__all__ = ["APK_INSTALLED", "DEBIAN_DOCKERFILE", "DISTROLESS_PACKAGES"]
