"""The tool's own image and gitlab-ci-local's helper image, built with imagebuild, cached.

Both start from the debootstrap minbase (tests/support/baseimages.py), pushed to a loopback
registry as the ``BASE`` of the repository's Dockerfile: apt-get and pip run inside the build
as they would on a CI machine. The tarballs are kept in the suite's ``CACHE_DIR`` under a key
made of every file that goes into the image (so an edit of the package rebuilds it, an edit of
a test does not), written to a temp name and renamed under a file lock. The daemon gets each
tarball with ``docker load`` unless it already holds the tag with the same image id.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.support.baseimages import CACHE_DIR, DEBIAN_NAME, file_lock
from tests.support.docker import DockerDaemon
from tests.support.registry import REGISTRY_BINARY, RegistryFactory

REPO = Path(__file__).resolve().parents[2]
OWN_TAG = "imagebuild-test/executor:own"
HELPER_TAG = "imagebuild-test/ci-helper:rsync"
# The files the Dockerfile's COPY lines and scripts/build-image read; bump RECIPE when the
# helper Dockerfile below or the base changes.
RECIPE = "1"
IMAGE_INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "scripts/build-image")
HELPER_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rsync \\
 && rm -rf /var/lib/apt/lists/*
"""


@dataclass(frozen=True)
class PipelineImages:
    """Tarballs of the tool's image and the helper image, and their tags in the daemon."""

    own: Path
    helper: Path
    own_tag: str = OWN_TAG
    helper_tag: str = HELPER_TAG


def inputs_key() -> str:
    """sha256 over the image's input files (paths and bytes), the base and the recipe."""
    digest = hashlib.sha256(f"{RECIPE}\0{DEBIAN_NAME}\0".encode())
    package = sorted(
        p
        for p in (REPO / "pytest_imagebuild").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    for path in [*(REPO / name for name in IMAGE_INPUTS), *package]:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
        pytest.fail(f"{what} failed ({done.returncode}): {' '.join(cmd)}\n{tail}", pytrace=False)


def _imagebuild(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "pytest_imagebuild", *map(str, args)]


def _push_base(debian_tar: Path, work: Path, registry_host: str) -> str:
    """The Debian minbase as an image in the registry: ``HOST/debian:bookworm``."""
    context = work / "base"
    context.mkdir()
    with contextlib.suppress(OSError):
        os.link(debian_tar, context / "debian.tar")
    if not (context / "debian.tar").exists():
        shutil.copyfile(debian_tar, context / "debian.tar")
    (context / "Dockerfile").write_text('FROM scratch\nADD debian.tar /\nCMD ["bash"]\n')
    ref = f"{registry_host}/debian:bookworm"
    args = ("--context", context, "--dockerfile", context / "Dockerfile", "--destination", ref)
    _run(_imagebuild(*args), "pushing the Debian base")
    return ref


def _build_missing(debian_tar: Path, own: Path, helper: Path, work: Path) -> None:
    """Build whichever of the two tarballs is missing, from the base in a fresh registry."""
    if not Path(REGISTRY_BINARY).exists():
        pytest.fail(f"{REGISTRY_BINARY} is missing: apt-get install docker-registry", pytrace=False)
    factory = RegistryFactory(work / "registry")
    try:
        base = _push_base(debian_tar, work, factory().host)
        if not own.exists():
            tmp = own.with_name(f".{own.name}.{os.getpid()}.tmp")
            _run(
                [str(REPO / "scripts/build-image"), "--base", base, "--tag", OWN_TAG,
                 "--no-push", "--tar-path", str(tmp)],
                "scripts/build-image",
            )  # fmt: skip
            tmp.rename(own)
        if not helper.exists():
            context = work / "helper"
            context.mkdir()
            (context / "Dockerfile").write_text(HELPER_DOCKERFILE)
            tmp = helper.with_name(f".{helper.name}.{os.getpid()}.tmp")
            _run(
                _imagebuild("--context", context, "--dockerfile", context / "Dockerfile",
                            "--build-arg", f"BASE={base}",
                            "--destination", HELPER_TAG, "--no-push", "--tar-path", tmp),
                "building the helper image",
            )  # fmt: skip
            tmp.rename(helper)
    finally:
        factory.stop_all()


def pipeline_images(debian_tar: Path, work: Path) -> PipelineImages:
    """The two tarballs, built on first use (the tool's image once per input key)."""
    own = CACHE_DIR / f"own-image-{inputs_key()}.tar"
    helper = CACHE_DIR / f"ci-helper-{RECIPE}-{DEBIAN_NAME}.tar"
    with file_lock(CACHE_DIR / "own-image.lock"):
        if not own.exists():
            for stale in CACHE_DIR.glob("own-image-*.tar"):
                stale.unlink()
        if not (own.exists() and helper.exists()):
            _build_missing(debian_tar, own, helper, work)
    return PipelineImages(own=own, helper=helper)


def load_once(docker: DockerDaemon, tarball: Path, tag: str) -> str:
    """``docker load`` ``tarball`` unless the daemon holds ``tag`` with the same image id."""
    with Image.open(tarball) as image:
        wanted = image.id
    with file_lock(CACHE_DIR / f"load-{tag.replace('/', '_').replace(':', '_')}.lock"):
        if not (docker.image_exists(tag) and docker.inspect(tag)["Id"] == wanted):
            docker.load(tarball)
    return tag
