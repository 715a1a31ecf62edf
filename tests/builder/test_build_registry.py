"""Bases pulled from and images pushed to a real registry (docker-registry on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import RegistryError
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.support.registry import RegistryFactory


def test_pull_base_build_push_and_pull_again(
    registry: RegistryFactory, busybox_rootfs: Path, tmp_path: Path
) -> None:
    reg = registry(auth="basic")
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    seed = write_tree(tmp_path / "seed", {"Dockerfile": f"FROM oci:{layout}\n"})
    build(
        BuildOptions(
            context=str(seed),
            destinations=(f"{reg.host}/base:1",),
            docker_config=reg.docker_config_dir,
        ),
        verbose=False,
    )
    app = write_tree(
        tmp_path / "app",
        {"Dockerfile": f"FROM {reg.host}/base:1\nRUN echo built > /built\n", "x": ""},
    )
    digest_file = tmp_path / "digest"
    result = build(
        BuildOptions(
            context=str(app),
            destinations=(f"{reg.host}/app:1", f"{reg.host}/app:latest"),
            docker_config=reg.docker_config_dir,
            digest_file=digest_file,
            tar_path=tmp_path / "app.tar",
        ),
        verbose=False,
    )
    assert result.pushed == (f"{reg.host}/app:1", f"{reg.host}/app:latest")
    assert digest_file.read_text() == result.manifest_digest
    check = write_tree(
        tmp_path / "check",
        {"Dockerfile": f"FROM {reg.host}/app:latest\nRUN cat /built > /again\n"},
    )
    out = tmp_path / "check.tar"
    build(
        BuildOptions(
            context=str(check), no_push=True, tar_path=out, docker_config=reg.docker_config_dir
        ),
        verbose=False,
    )
    with Image.open(out) as image:
        assert image.file("/again").read_text() == "built\n"
        assert image.file("/bin/busybox").exists


def test_unauthorized_and_unreachable_registries_fail_cleanly(
    registry: RegistryFactory, tmp_path: Path
) -> None:
    reg = registry(auth="basic")
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM {reg.host}/missing:1\n"})
    out = tmp_path / "out.tar"
    with pytest.raises(RegistryError) as info:
        build(
            BuildOptions(
                context=str(ctx), no_push=True, tar_path=out, docker_config=tmp_path / "no-config"
            ),
            verbose=False,
        )
    assert reg.host in str(info.value)
    assert info.value.location is not None
    assert info.value.location.line == 1
    assert not out.exists()
    ctx2 = write_tree(tmp_path / "ctx2", {"Dockerfile": "FROM 127.0.0.1:9/nothing:1\n"})
    with pytest.raises(RegistryError):
        build(BuildOptions(context=str(ctx2), no_push=True, tar_path=out), verbose=False)
    assert not out.exists()
