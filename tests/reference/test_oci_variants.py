"""The same reference images, rewritten by buildah as OCI layouts and archives.

buildah pulls the ``docker save`` tarball into its own throwaway storage and pushes it as
an OCI layout (gzip or zstd layers), an OCI archive and buildah's own docker-archive; the
read side must see the same files as ``docker export`` in every form.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.reference.conftest import Reference
from tests.reference.listing import (
    describe_differences,
    export_vs_image,
    image_listing,
    tar_listing,
)

pytestmark = pytest.mark.docker

BUILDAH = "/usr/bin/buildah"
IMAGES = ("deletions", "links", "modes", "names")
# name -> (buildah push arguments, destination transport, file name)
VARIANTS = {
    "oci-dir-gzip": ((), "oci", "layout"),
    "oci-dir-zstd": (("--compression-format", "zstd"), "oci", "layout"),
    "oci-archive": ((), "oci-archive", "image.tar"),
    "buildah-docker-archive": (("--format", "v2s2"), "docker-archive", "image.tar"),
}
LAYER_MEDIA_TYPES = {
    "oci-dir-gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "oci-dir-zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "oci-archive": "application/vnd.oci.image.layer.v1.tar+gzip",
}


class Buildah:
    """buildah with its own storage under ``root`` (vfs driver, nothing shared)."""

    def __init__(self, root: Path) -> None:
        self.base = [
            BUILDAH,
            "--root",
            str(root / "storage"),
            "--runroot",
            str(root / "run"),
            "--storage-driver",
            "vfs",
        ]

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AssertionError(
                f"buildah {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
            )
        return proc.stdout.strip()


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Buildah:
    if not Path(BUILDAH).exists():
        pytest.fail(f"{BUILDAH} is missing: apt-get install buildah", pytrace=False)
    return Buildah(tmp_path_factory.mktemp("buildah"))


@pytest.fixture(scope="session")
def pulled(buildah: Buildah, reference_factory: Callable[[str], Reference]) -> Callable[[str], str]:
    """``pulled(name) -> buildah image id`` of that reference image."""
    ids: dict[str, str] = {}

    def pull(name: str) -> str:
        if name not in ids:
            saved = reference_factory(name).saved
            ids[name] = buildah("pull", "--quiet", f"docker-archive:{saved}").splitlines()[-1]
        return ids[name]

    return pull


@pytest.fixture(scope="session", params=[(i, v) for i in IMAGES for v in VARIANTS], ids="-".join)
def variant(
    request: pytest.FixtureRequest,
    buildah: Buildah,
    pulled: Callable[[str], str],
    reference_factory: Callable[[str], Reference],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, Reference, Path]:
    name, kind = request.param
    args, transport, filename = VARIANTS[kind]
    dest = tmp_path_factory.mktemp(f"{name}-{kind}") / filename
    image_id = pulled(name)
    if transport == "docker-archive":
        target = f"{transport}:{dest}:{reference_factory(name).tag}"
    else:
        target = f"{transport}:{dest}:latest"
    if "--format" not in args:
        args = (*args, "--format", "oci")
    buildah("push", "--quiet", *args, image_id, target)
    return kind, reference_factory(name), dest


def test_variant_merged_view_matches_export(variant: tuple[str, Reference, Path]) -> None:
    _kind, reference, path = variant
    with Image.open(path) as image:
        expected, got = export_vs_image(
            tar_listing(reference.exported), image_listing(image.walk())
        )
    differences = describe_differences(expected, got)
    assert not differences, differences


def test_variant_layers_and_config(variant: tuple[str, Reference, Path]) -> None:
    kind, reference, path = variant
    inspect = reference.inspect
    with Image.open(path) as image:
        assert [layer.diff_id for layer in image.layers] == inspect["RootFS"]["Layers"]
        if kind in LAYER_MEDIA_TYPES:
            assert {layer.media_type for layer in image.layers} == {LAYER_MEDIA_TYPES[kind]}
        config = inspect["Config"]
        assert image.env == dict(e.split("=", 1) for e in config.get("Env") or ())
        assert image.cmd == (tuple(config["Cmd"]) if config.get("Cmd") else None)
        assert image.entrypoint == (
            tuple(config["Entrypoint"]) if config.get("Entrypoint") else None
        )
        assert image.architecture == inspect["Architecture"]
        assert image.os == inspect["Os"]


@pytest.fixture(scope="session")
def multi_platform_layout(
    buildah: Buildah,
    pulled: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """An OCI layout whose index holds the links image for linux/amd64 and linux/arm64/v8.

    The arm64 entry is the same root re-committed by buildah with ``--arch arm64``.
    """
    amd64 = pulled("links")
    container = buildah("from", "--quiet", amd64).splitlines()[-1]
    buildah("config", "--arch", "arm64", "--variant", "v8", container)
    arm64 = buildah("commit", "--quiet", container, "imagebuild-test/links-arm64").splitlines()[-1]
    buildah("rm", container)
    listname = "imagebuild-test/links-multi"
    buildah("manifest", "create", listname)
    buildah("manifest", "add", listname, amd64)
    buildah("manifest", "add", listname, arm64)
    dest = tmp_path_factory.mktemp("multi") / "layout"
    buildah(
        "manifest", "push", "--quiet", "--all", "--format", "oci", listname, f"oci:{dest}:latest"
    )
    return dest


def test_multi_platform_index(
    multi_platform_layout: Path, reference_factory: Callable[[str], Reference]
) -> None:
    reference = reference_factory("links")
    assert Image.platforms(multi_platform_layout) == ("linux/amd64", "linux/arm64/v8")
    expected_layers = reference.inspect["RootFS"]["Layers"]
    with Image.open(multi_platform_layout) as image:
        assert image.architecture == "amd64"
        assert [layer.diff_id for layer in image.layers] == expected_layers
    for platform in ("linux/amd64", "linux/arm64/v8"):
        with Image.open(multi_platform_layout, platform=platform) as image:
            variant = f"/{image.variant}" if image.variant else ""
            assert f"{image.os}/{image.architecture}{variant}" == platform
            assert [layer.diff_id for layer in image.layers][: len(expected_layers)] == (
                expected_layers
            )
            expected, got = export_vs_image(
                tar_listing(reference.exported), image_listing(image.walk())
            )
        differences = describe_differences(expected, got)
        assert not differences, f"{platform}:\n{differences}"
