"""Base images made locally and published to the loopback registry.

- busybox: /usr/bin/busybox (static) with its applet symlinks, passwd, group, /tmp.
- debian: ``debootstrap --variant=minbase bookworm``, cached under
  ~/.cache/pytest-imagebuild-bench/.
- big: busybox plus three layers of generated files (67k files, ~700 MB; a tenth of
  that with --quick), built by docker's legacy builder from COPY instructions.
Each is pushed once; later runs find it in the registry and in docker's store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import gen
from infra import CACHE, Env
from tools import ToolError, quiet

BUSYBOX = "/usr/bin/busybox"
MIRROR = "http://deb.debian.org/debian"
BUSYBOX_NAME = "bench/busybox:1"
DEBIAN_NAME = "bench/debian:bookworm"


def _ensure(env: Env, name: str, make_local: object) -> str:
    """``registry/name``, building with ``make_local() -> docker ref`` when missing."""
    ref = env.ref(name)
    if env.in_registry(name) and env.docker.has_image(ref):
        return ref
    if env.docker.has_image(ref):
        env.docker.cmd("push", ref, timeout=3600)
        return ref
    if env.in_registry(name):
        env.docker.cmd("pull", ref, timeout=3600)
        return ref
    local = make_local()  # type: ignore[operator]
    return env.publish(str(local), name)


def busybox_rootfs(work: Path) -> Path:
    root = work / "busybox-rootfs"
    if (root / "bin" / "busybox").exists():
        return root
    tmp = work / "busybox-rootfs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, tmp / "bin" / "busybox")
    for applet in quiet([BUSYBOX, "--list-full"]).split():
        link = tmp / applet
        if link.name == "busybox" or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/bin/busybox", link)
    (tmp / "etc").mkdir(exist_ok=True)
    (tmp / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    )
    (tmp / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for d in ("tmp", "root", "var", "usr/local/bin"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    (tmp / "tmp").chmod(0o1777)
    tmp.rename(root)
    return root


def _import(env: Env, rootfs: Path, tarball: Path, tag: str, cmd: str) -> str:
    if not tarball.exists():
        part = tarball.with_suffix(".part")
        quiet(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(part), "."])
        part.rename(tarball)
    env.docker.cmd("import", "--change", f"CMD {cmd}", str(tarball), tag, timeout=3600)
    return tag


def busybox(env: Env) -> str:
    def make() -> str:
        rootfs = busybox_rootfs(env.work)
        return _import(env, rootfs, env.work / "busybox.tar", "bench-local/busybox:1", '["sh"]')

    return _ensure(env, BUSYBOX_NAME, make)


def debian_rootfs() -> Path:
    root = CACHE / "debian-bookworm-minbase"
    if (root / "usr" / "bin" / "apt-get").exists():
        return root
    tmp = CACHE / "debian-bookworm-minbase.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", str(tmp), MIRROR],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolError(f"debootstrap failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")
    tmp.rename(root)
    return root


def debian(env: Env) -> str:
    def make() -> str:
        tarball = CACHE / "debian-bookworm-minbase.tar"
        return _import(env, debian_rootfs(), tarball, "bench-local/debian:bookworm", '["bash"]')

    return _ensure(env, DEBIAN_NAME, make)


def big(env: Env) -> str:
    """The 67k-file / 700 MB image (6.7k / 70 MB with --quick)."""
    scale = 10 if env.quick else 1
    name = "bench/big-quick:1" if env.quick else "bench/big:1"
    base = busybox(env)

    def make() -> str:
        ctx = env.work / ("big-ctx-quick" if env.quick else "big-ctx")
        # three layers: many small files, mid-size files, a few large ones
        gen.file_tree(ctx / "a", 40_000 // scale, (120 << 20) // scale, seed=11)
        gen.file_tree(ctx / "b", 25_000 // scale, (330 << 20) // scale, seed=12)
        gen.file_tree(ctx / "c", 2_000 // scale, (250 << 20) // scale, seed=13)
        gen.blank(
            ctx / "Dockerfile",
            f"FROM {base}\nCOPY a /srv/a\nCOPY b /srv/b\n"
            "COPY c /opt/c\nRUN echo big > /etc/big-release\n",
        )
        tag = "bench-local/" + name.split("/", 1)[1]
        env.docker.cmd("build", "--quiet", "--force-rm", "-t", tag, str(ctx), timeout=3600)
        return tag

    return _ensure(env, name, make)


def saved(env: Env, ref: str, dest: Path) -> Path:
    """``docker save`` of ``ref`` into ``dest`` unless already there for this image id."""
    image_id = env.docker.cmd("image", "inspect", "--format", "{{.Id}}", ref).strip()
    stamp = dest.with_suffix(".id")
    if dest.exists() and stamp.exists() and stamp.read_text() == image_id:
        return dest
    part = dest.with_suffix(".part")
    env.docker.cmd("save", "-o", str(part), ref, timeout=3600)
    part.rename(dest)
    stamp.write_text(image_id)
    return dest
