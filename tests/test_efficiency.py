"""Layer efficiency on images the embedded executor and docker build from the busybox base.

dive itself cannot be built here (its Go modules are not reachable), so the expected
figures are worked out by hand from the Dockerfile below and dive's definition:

* ``/data/big`` is written (100,000 bytes), then overwritten (40,000): dive counts both
  copies, 140,000 bytes; the corrected figure counts the hidden 100,000 only.
* ``/data/gone`` (500) is deleted: dive counts 500 (a copy of 500 and a deletion of 0),
  and so does the corrected figure.
* ``/data/cache`` (a: 3,000, b: 2,000) is deleted as a directory: dive adds its 5,000
  bytes to both sides of the score and lists no waste; the corrected figure counts 5,000.
* ``/data/keep`` (5) stays.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.efficiency import analyze_efficiency
from pytest_imagebuild.image import Image
from tests.image import imagekit as kit
from tests.support.docker import DockerDaemon

STEPS = """\
RUN mkdir -p /data/cache && head -c 100000 /dev/zero > /data/big \\
    && head -c 3000 /dev/zero > /data/cache/a && head -c 2000 /dev/zero > /data/cache/b \\
    && head -c 500 /dev/zero > /data/gone && printf hello > /data/keep
RUN head -c 40000 /dev/zero > /data/big
RUN rm /data/gone && rm -r /data/cache
"""
ADDED = 100_000 + 3_000 + 2_000 + 500 + 5 + 40_000
DIVE_WASTE = 140_000 + 500
HIDDEN = 100_000 + 500 + 5_000


def base_bytes(rootfs: Path) -> int:
    """The regular-file bytes of the busybox root, counted on disk."""
    total = 0
    for top, _, names in os.walk(rootfs):
        for name in names:
            path = Path(top, name)
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
    return total


@pytest.fixture(scope="module")
def executor_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("efficiency-executor")
    shutil.copyfile(busybox_rootfs_tar, context / "rootfs.tar")
    (context / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n" + STEPS)
    out = context.parent / "efficiency-executor.tar"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=out,
            destinations=("imagebuild-test/efficiency:1",),
            cache_dir=context.parent / "efficiency-cache",
        ),
        verbose=False,
    )
    return out


@pytest.fixture(scope="module")
def docker_tar(
    docker_daemon: DockerDaemon, busybox_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    context = tmp_path_factory.mktemp("efficiency-docker")
    (context / "Dockerfile").write_text(f"FROM {busybox_image}\n" + STEPS)
    tag = docker_daemon.build(context, tag="imagebuild-test/efficiency-docker:1")
    try:
        return docker_daemon.save(tag, context.parent / "efficiency-docker.tar")
    finally:
        docker_daemon.remove_image(tag)


@pytest.fixture(params=["executor", "docker"])
def built(request: pytest.FixtureRequest) -> Iterator[Image]:
    with Image.open(request.getfixturevalue(f"{request.param}_tar")) as image:
        yield image


def test_dive_figures_match_the_hand_computation(built: Image, busybox_rootfs: Path) -> None:
    base = base_bytes(busybox_rootfs)
    result = analyze_efficiency(built)
    assert [layer.size for layer in result.layers] == [base, 105_505, 40_000, 0]
    assert result.size_bytes == base + ADDED
    assert result.user_size_bytes == ADDED
    assert result.wasted_bytes == DIVE_WASTE
    # smallest copy of each path over all copies; the deleted directory's 5,000 bytes are
    # on both sides, its files' bytes too.
    smallest = base + 3_000 + 2_000 + 5 + 40_000 + 0 + 5_000
    discovered = base + ADDED + 5_000
    assert result.score == pytest.approx(smallest / discovered, rel=1e-12)
    assert result.user_wasted_percent == pytest.approx(DIVE_WASTE / ADDED, rel=1e-12)
    assert result.dive_skipped_layers == ()


def test_corrected_figures_count_only_hidden_copies(built: Image, busybox_rootfs: Path) -> None:
    base = base_bytes(busybox_rootfs)
    result = analyze_efficiency(built)
    assert result.corrected_wasted_bytes == HIDDEN
    shipped = base + ADDED
    assert result.corrected_score == pytest.approx((shipped - HIDDEN) / shipped, rel=1e-12)
    assert result.corrected_user_wasted_percent == pytest.approx(HIDDEN / ADDED, rel=1e-12)
    assert [layer.wasted_bytes for layer in result.layers] == [0, 105_500, 0, 0]


def test_each_wasted_path_is_traced_to_its_instructions(built: Image) -> None:
    wasted = {w.path: w for w in analyze_efficiency(built).wasted}
    assert set(wasted) == {"/data/big", "/data/gone", "/data/cache/a", "/data/cache/b"}
    big = wasted["/data/big"]
    assert (big.wasted_bytes, big.dive_bytes) == (100_000, 140_000)
    assert [(c.layer, c.action, c.size) for c in big.copies] == [
        (1, "wrote", 100_000),
        (2, "replaced", 0),
        (2, "kept", 40_000),
    ]
    assert "mkdir -p /data/cache" in big.copies[0].created_by
    assert "head -c 40000" in big.copies[1].created_by
    gone = wasted["/data/gone"]
    assert (gone.wasted_bytes, gone.dive_bytes) == (500, 500)
    assert [(c.layer, c.action, c.via) for c in gone.copies] == [
        (1, "wrote", ""),
        (3, "deleted", "/data/gone"),
    ]
    cache = wasted["/data/cache/a"]
    assert (cache.wasted_bytes, cache.dive_bytes) == (3_000, 0)
    assert cache.copies[-1].action == "deleted"
    assert cache.copies[-1].via == "/data/cache"
    assert "rm -r /data/cache" in cache.copies[-1].created_by
    # Biggest first.
    assert next(iter(wasted)) == "/data/big"


def _image(tmp_path: Path, layers: list[list[kit.Entry]]) -> Image:
    built = [kit.layer(entries) for entries in layers]
    path = kit.docker_archive(tmp_path / "image.tar", kit.Spec(built, kit.config(built)))
    return Image.open(path)


def test_opaque_directory_and_file_over_directory(tmp_path: Path) -> None:
    layers = [
        [kit.directory("a"), kit.file("a/x", b"x" * 700), kit.directory("d")],
        [kit.file("d/y", b"y" * 300), kit.file("a/z", b"z" * 11)],
        # an opaque "a" hides a/x and a/z; a file "d" replaces the directory d.
        [kit.directory("a"), kit.opaque("a"), kit.file("a/new", b"n" * 5), kit.file("d", b"f")],
    ]
    with _image(tmp_path, layers) as image:
        result = analyze_efficiency(image)
    assert result.corrected_wasted_bytes == 700 + 300 + 11
    # dive ignores opaque markers and sees no deletion in a file over a directory; it
    # counts "/d" twice (an empty directory of 0 bytes, then a file of 1).
    assert result.wasted_bytes == 1
    assert result.score == pytest.approx((700 + 300 + 11 + 0 + 5) / (700 + 300 + 11 + 1 + 5))
    by_path = {w.path: w for w in result.wasted}
    assert by_path["/a/x"].copies[-1].via == "/a"
    assert by_path["/d/y"].copies[-1].action == "replaced"


def test_hardlinked_bytes_stay_in_view(tmp_path: Path) -> None:
    layers = [
        [kit.file("f", b"q" * 900), kit.hardlink("g", "f")],
        [kit.whiteout("f")],
    ]
    with _image(tmp_path, layers) as image:
        result = analyze_efficiency(image)
        assert image.file("/g").size == 900
    assert result.corrected_wasted_bytes == 0
    # dive: "f" was copied once (900) and deleted once (0): 900 wasted.
    assert result.wasted_bytes == 900
    assert result.score == pytest.approx(0 / 900)


def test_whiteout_of_unknown_path_ends_dives_walk_of_the_layer(tmp_path: Path) -> None:
    layers = [
        [kit.file("b", b"b" * 10)],
        [kit.whiteout("a"), kit.file("b", b"B" * 20)],
    ]
    with _image(tmp_path, layers) as image:
        result = analyze_efficiency(image)
    assert result.dive_skipped_layers == (1,)
    # dive stops at "/a" (sorted first): the new "/b" goes uncounted, so no waste for dive.
    assert result.wasted_bytes == 0
    assert result.corrected_wasted_bytes == 10


def test_empty_image_has_dives_figures_of_nothing(tmp_path: Path) -> None:
    with _image(tmp_path, [[kit.directory("etc")]]) as image:
        result = analyze_efficiency(image)
    assert result.score == 1.0
    assert result.corrected_score == 1.0
    assert math.isnan(result.user_wasted_percent)
