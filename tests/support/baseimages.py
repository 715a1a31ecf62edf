"""Base images the tests make themselves: a static busybox rootfs and a Debian minbase.

No public image can be pulled, so the tests assemble their own roots:

* ``busybox_rootfs``: ``/usr/bin/busybox`` (busybox-static) with a symlink per applet in
  ``/bin``, ``/etc/passwd`` and ``/etc/group`` (root, nobody, app uid 1000), ``/tmp`` (1777),
  ``/root`` and ``/home/app``. ``busybox_image`` is that root imported into the reference
  daemon as ``BUSYBOX_TAG``.
* ``debian_rootfs``: ``debootstrap --variant=minbase bookworm``, built once into
  ``CACHE_DIR`` (temp dir then rename, under a file lock so parallel workers do not race) and
  kept as a tarball next to it. ``debian_image`` imports it as ``DEBIAN_TAG``.

Imports are skipped when the daemon already holds the tag with the same rootfs digest label.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.docker import DockerDaemon

BUSYBOX = Path("/usr/bin/busybox")
DEBOOTSTRAP = "/usr/sbin/debootstrap"
MIRROR = "http://deb.debian.org/debian"
# Bump when the recipe below changes; it keys the cache.
DEBIAN_VERSION = "1"
DEBIAN_NAME = f"debian-bookworm-minbase-{DEBIAN_VERSION}"
CACHE_DIR = Path(
    os.environ.get("IMAGEBUILD_TEST_CACHE", Path.home() / ".cache" / "pytest-imagebuild-tests")
)
BUSYBOX_TAG = "imagebuild-test/busybox:1"
DEBIAN_TAG = "imagebuild-test/debian:bookworm"
DIGEST_LABEL = "org.pytest-imagebuild.test.rootfs-sha256"
# A fixed mtime keeps the busybox tarball byte-identical from run to run.
FIXED_MTIME = 1704067200  # 2024-01-01T00:00:00Z

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
"""
GROUP = """\
root:x:0:
nobody:x:65534:
app:x:1000:
"""


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def make_busybox_rootfs(root: Path) -> Path:
    """Populate ``root`` (which must not exist) with the busybox tree."""
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static", pytrace=False)
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, check=True, text=True
    ).stdout.split()
    for sub in ("bin", "etc", "root", "home/app", "tmp", "usr/bin", "var"):
        (root / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    os.chmod(root / "bin" / "busybox", 0o755)
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    os.chmod(root / "root", 0o700)
    os.chmod(root / "tmp", 0o1777)
    os.chown(root / "home" / "app", 1000, 1000)
    return root


def tar_tree(root: Path, dest: Path, *, mtime: int | None = None) -> Path:
    """Write ``root`` as a rootfs tarball (sorted, numeric owners, optional fixed mtime)."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in [root, *sorted(root.rglob("*"))]:
            rel = path.relative_to(root)
            info = tar.gettarinfo(path, arcname="." if rel == Path() else f"./{rel}")
            info.uname = info.gname = ""
            if mtime is not None:
                info.mtime = mtime
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    tmp.rename(dest)
    return dest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_once(docker: DockerDaemon, tarball: Path, tag: str, changes: list[str]) -> str:
    """Import ``tarball`` as ``tag`` unless the daemon holds that tag for the same bytes."""
    digest = sha256_file(tarball)
    with file_lock(CACHE_DIR / f"import-{tag.replace('/', '_').replace(':', '_')}.lock"):
        if docker.image_exists(tag):
            labels = (docker.inspect(tag).get("Config") or {}).get("Labels") or {}
            if labels.get(DIGEST_LABEL) == digest:
                return tag
        docker.import_rootfs(tarball, tag, [*changes, f"LABEL {DIGEST_LABEL}={digest}"])
    return tag


def debootstrap_cached() -> Path:
    """The cached Debian minbase tree, made on first use."""
    final = CACHE_DIR / DEBIAN_NAME
    with file_lock(CACHE_DIR / f"{DEBIAN_NAME}.lock"):
        if final.is_dir():
            return final
        if os.geteuid() != 0:
            pytest.fail(
                f"debootstrap needs root to create {final} (euid {os.geteuid()})", pytrace=False
            )
        tmp = CACHE_DIR / f".{DEBIAN_NAME}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        proc = subprocess.run(
            [DEBOOTSTRAP, "--variant=minbase", "bookworm", str(tmp), MIRROR],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            log = tmp / "debootstrap" / "debootstrap.log"
            detail = log.read_text(errors="replace")[-3000:] if log.exists() else proc.stderr
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.fail(
                f"debootstrap --variant=minbase bookworm from {MIRROR} failed "
                f"({proc.returncode}):\n{proc.stdout[-2000:]}\n{detail}",
                pytrace=False,
            )
        tmp.rename(final)
    return final


def debian_tarball_cached(root: Path) -> Path:
    """The Debian tree as a rootfs tarball next to it, made once."""
    dest = CACHE_DIR / f"{DEBIAN_NAME}.tar"
    with file_lock(CACHE_DIR / f"{DEBIAN_NAME}.tar.lock"):
        if not dest.exists():
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
            subprocess.run(
                [
                    "tar",
                    "--create",
                    "--file",
                    str(tmp),
                    "--directory",
                    str(root),
                    "--numeric-owner",
                    "--xattrs",
                    "--xattrs-include=*",
                    "--sort=name",
                    ".",
                ],
                check=True,
            )
            tmp.rename(dest)
    return dest


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the busybox root."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox-rootfs") / "rootfs")


@pytest.fixture(scope="session")
def busybox_rootfs_tar(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``busybox_rootfs`` as an uncompressed rootfs tarball (same bytes every run)."""
    return tar_tree(
        busybox_rootfs, tmp_path_factory.mktemp("busybox-tar") / "rootfs.tar", mtime=FIXED_MTIME
    )


@pytest.fixture(scope="session")
def busybox_image(docker_daemon: DockerDaemon, busybox_rootfs_tar: Path) -> str:
    """Tag of the busybox root imported into the reference daemon, ``CMD ["sh"]``."""
    return import_once(docker_daemon, busybox_rootfs_tar, BUSYBOX_TAG, ['CMD ["sh"]'])


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """The cached ``debootstrap --variant=minbase bookworm`` tree (do not modify it)."""
    return debootstrap_cached()


@pytest.fixture(scope="session")
def debian_rootfs_tar(debian_rootfs: Path) -> Path:
    """``debian_rootfs`` as a cached, uncompressed rootfs tarball."""
    return debian_tarball_cached(debian_rootfs)


@pytest.fixture(scope="session")
def debian_image(docker_daemon: DockerDaemon, debian_rootfs_tar: Path) -> str:
    """Tag of the Debian minbase imported into the reference daemon, ``CMD ["bash"]``."""
    return import_once(docker_daemon, debian_rootfs_tar, DEBIAN_TAG, ['CMD ["bash"]'])
