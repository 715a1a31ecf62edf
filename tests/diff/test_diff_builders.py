"""The same Dockerfile built by docker, buildah and the executor: a semantic diff holds only
what the builders write differently on purpose (their own bookkeeping keys)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.diff import ImageDiff, diff
from pytest_imagebuild.image import Image
from tests.builder.build_support import digest_of, make_base, write_tree
from tests.support.docker import DockerDaemon

BUILDAH = "/usr/bin/buildah"
FILES = {"app/main.sh": "echo main\n", "app/conf/settings.ini": "[a]\nb=1\n"}
DOCKERFILE = """\
ARG BASE
FROM $BASE
COPY app/ /app/
ENV X=1 PATH=/app:/usr/bin:/bin
WORKDIR /app
LABEL team=core
EXPOSE 8080
CMD ["sh", "/app/main.sh"]
"""
BUILDAH_STUBS = ("/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/run", "/sys")
RUN_LINE = "RUN echo built > /app/built.txt && chmod 600 /app/conf/settings.ini\n"


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_base(busybox_rootfs, tmp_path_factory.mktemp("builders-base"))


def executor_tar(base_layout: Path, context: Path) -> Path:
    out = context.parent / f"{context.name}-executor.tar"
    options = BuildOptions(
        context=str(context),
        no_push=True,
        tar_path=out,
        build_args=(("BASE", f"oci:{base_layout}"),),
    )
    build(options, verbose=False)
    return out


@pytest.mark.docker
def test_docker_and_executor_hold_the_same_image(
    base: tuple[Path, Path], docker_daemon: DockerDaemon, tmp_path: Path
) -> None:
    base_tar, base_layout = base
    docker_daemon.load(base_tar)
    tag = f"imagebuild-test/orchestrator-base:{digest_of(base_tar)}"
    docker_daemon.run("tag", "imagebuild-test/orchestrator-base:1", tag)
    context = write_tree(tmp_path / "ctx", {**FILES, "Dockerfile": DOCKERFILE + RUN_LINE})
    ours = executor_tar(base_layout, context)
    built = docker_daemon.build(
        context, tag="imagebuild-test/diff-docker:1", build_args={"BASE": tag}
    )
    theirs = docker_daemon.save(built, tmp_path / "docker.tar")
    with Image.open(ours) as a, Image.open(theirs) as b:
        plain = diff(a, b, ignore=["mtime"])
        assert plain.changed == ()  # the same files, modes, owners and contents
        assert {c.field for c in plain.config} >= {"config.raw.Image", "config.top.container"}
        assert diff(a, b, semantic=True) == ImageDiff()


def buildah(storage: Path, *args: str) -> None:
    cmd = [BUILDAH, "--root", str(storage / "root"), "--runroot", str(storage / "run")]
    cmd += ["--storage-driver", "vfs", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"


def test_buildah_and_executor_hold_the_same_image(base: tuple[Path, Path], tmp_path: Path) -> None:
    assert Path(BUILDAH).exists(), f"{BUILDAH} is missing: scripts/setup installs buildah"
    _, base_layout = base
    context = write_tree(tmp_path / "ctx", {**FILES, "Dockerfile": DOCKERFILE + RUN_LINE})
    ours = executor_tar(base_layout, context)
    storage = tmp_path / "buildah"
    try:
        buildah(
            storage, "bud", "--isolation", "chroot", "--build-arg", f"BASE=oci:{base_layout}",
            "--tag", "localhost/diff-buildah:1", str(context),
        )  # fmt: skip
        theirs = tmp_path / "buildah.tar"
        buildah(storage, "push", "localhost/diff-buildah:1", f"oci-archive:{theirs}")
    finally:
        subprocess.run(
            [BUILDAH, "--root", str(storage / "root"), "--runroot", str(storage / "run"),
             "--storage-driver", "vfs", "rm", "--all"],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
    with Image.open(ours) as a, Image.open(theirs) as b:
        result = diff(a, b, semantic=True)
        # buildah's RUN leaves its mount points in the image, labels it, and (without
        # --layers) commits the whole build as one layer: nothing else differs.
        assert [e.path for e in result.added] == [*BUILDAH_STUBS]
        assert (result.removed, result.changed) == ((), ())
        assert [c.field for c in result.config] == ["config.labels.io.buildah.version"]
        assert [c.field for c in result.layers] == ["layers.count"]
        assert [c.field for c in result.history] == ["history.empty_layer.2"]
        rules = [*BUILDAH_STUBS, "config.labels.io.buildah.version", "layers", "history"]
        assert diff(a, b, semantic=True, ignore=rules) == ImageDiff()
