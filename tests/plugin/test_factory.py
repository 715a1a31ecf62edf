"""ImageFactory and the translation of markers and parameters into sources."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.plugin.builds import BuildSettings, ImageBuilder
from pytest_imagebuild.plugin.factory import (
    BuildSpec,
    ImageFactory,
    TarballSource,
    no_image_error,
    source_from_marker,
    source_from_param,
)
from tests.plugin.imagetar import write_multiplatform, write_sample
from tests.support.tarfiles import extract_all


def test_open_reuses_an_unchanged_file(sample_tar: Path, tmp_path: Path) -> None:
    factory = ImageFactory(index_cache=tmp_path / "index")
    first = factory.open(sample_tar)
    assert factory.open(str(sample_tar)) is first
    assert factory.path_of(first) == sample_tar
    assert (tmp_path / "index").is_dir()
    factory.close()


def test_open_reopens_a_changed_file(sample_tar: Path) -> None:
    factory = ImageFactory()
    first = factory.open(sample_tar)
    write_sample(sample_tar, architecture="arm64")
    stat = sample_tar.stat()
    os.utime(sample_tar, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = factory.open(sample_tar)
    assert second is not first
    assert second.architecture == "arm64"
    factory.close()


def test_close_forgets_images(sample_tar: Path) -> None:
    factory = ImageFactory()
    first = factory.open(sample_tar)
    factory.close()
    assert factory.path_of(first) is None
    assert factory.open(sample_tar) is not first
    factory.close()


def test_open_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"image not found: .*/absent\.tar \(from here\)"):
        ImageFactory().open(tmp_path / "absent.tar", origin="here")


def test_factory_without_builder_cannot_build(tmp_path: Path) -> None:
    spec = BuildSpec(dockerfile=tmp_path / "Dockerfile", context=tmp_path)
    with pytest.raises(UsageError, match="this factory has no builder"):
        ImageFactory().get(spec)


def test_factory_builds_and_reuses(busybox_rootfs_tar: Path, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "rootfs.tar").write_bytes(busybox_rootfs_tar.read_bytes())
    (context / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\nUSER nobody\n")
    builder = ImageBuilder(BuildSettings(cache_dir=tmp_path / "cache"))
    factory = ImageFactory(builder=builder)
    image = factory.build(context / "Dockerfile")
    assert image.user == "nobody"
    assert factory.build(context / "Dockerfile", context=context) is image
    assert [r.outcome for r in builder.records] == ["built"]
    factory.close()
    again = ImageBuilder(BuildSettings(cache_dir=tmp_path / "cache"))
    with ImageFactory(builder=again).build(BuildSpec(context / "Dockerfile", context)) as same:
        assert same.id == image.id
    assert [r.outcome for r in again.records] == ["reused"]


def test_marker_defaults(tmp_path: Path) -> None:
    assert source_from_marker((), {}, tmp_path, "m") == BuildSpec(
        dockerfile=tmp_path / "Dockerfile", context=tmp_path, origin="m"
    )
    spec = source_from_marker(
        ("docker/Dockerfile.prod",),
        {"target": "final", "build_args": {"V": "1"}, "platform": "linux/arm64"},
        tmp_path,
        "m",
    )
    assert spec == BuildSpec(
        dockerfile=tmp_path / "docker/Dockerfile.prod",
        context=tmp_path / "docker",
        target="final",
        build_args={"V": "1"},
        platform="linux/arm64",
        origin="m",
    )
    assert source_from_marker((), {"context": "app"}, tmp_path, "m") == BuildSpec(
        dockerfile=tmp_path / "app/Dockerfile", context=tmp_path / "app", origin="m"
    )
    assert source_from_marker((), {"path": "x/Dockerfile", "context": "."}, tmp_path, "m") == (
        BuildSpec(dockerfile=tmp_path / "x/Dockerfile", context=tmp_path, origin="m")
    )


def test_marker_image(tmp_path: Path) -> None:
    source = source_from_marker((), {"image": "a.tar", "platform": "linux/amd64"}, tmp_path, "m")
    assert source == TarballSource(tmp_path / "a.tar", "linux/amd64", "m")
    absolute = source_from_marker((), {"image": Path("/abs/b.tar")}, tmp_path, "m")
    assert absolute == TarballSource(Path("/abs/b.tar"), None, "m")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.tar", "tarball"),
        ("layout", "tarball"),
        ("Dockerfile", "build"),
        ("sub/Dockerfile.alpine", "build"),
        ("web.dockerfile", "build"),
        ("Containerfile", "build"),
        (Path("x/app.oci.tar"), "tarball"),
    ],
)
def test_param_kinds(tmp_path: Path, value: str | Path, expected: str) -> None:
    source = source_from_param(value, tmp_path, "p")
    if expected == "build":
        assert isinstance(source, BuildSpec)
        assert source.dockerfile == tmp_path / value
        assert source.context == (tmp_path / value).parent
    else:
        assert source == TarballSource(tmp_path / value, None, "p")


def test_param_accepts_sources(tmp_path: Path) -> None:
    source = TarballSource(tmp_path / "a.tar", "linux/arm64")
    assert source_from_param(source, Path("/elsewhere"), "p") is source
    with pytest.raises(UsageError, match="the image parameter must be a path, got 3"):
        source_from_param(3, tmp_path, "p")


def test_no_image_error_names_the_test() -> None:
    error = no_image_error("t.py::test_x")
    assert str(error).startswith("t.py::test_x: no image configured for the 'image' fixture\n")


def test_oci_layout_directory_is_keyed_by_its_index(tmp_path: Path) -> None:
    archive = write_multiplatform(tmp_path / "multi.tar", ["amd64", "arm64"])
    layout = tmp_path / "layout"
    with tarfile.open(archive) as tar:
        extract_all(tar, layout)
    factory = ImageFactory(platform="linux/arm64")
    first = factory.open(layout)
    assert first.architecture == "arm64"
    assert factory.open(layout) is first
    assert factory.open(layout, platform="linux/amd64").architecture == "amd64"
    index = layout / "index.json"
    index.write_text(index.read_text() + "\n")
    assert factory.open(layout) is not first
    factory.close()
