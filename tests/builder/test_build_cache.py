"""``--cache``: RUN layers come back from the layer cache; changed inputs build again."""

from __future__ import annotations

from pathlib import Path

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree

DOCKERFILE = """\
FROM {base}
ARG FLAVOUR=plain
RUN echo $FLAVOUR > /flavour && od -An -tx1 -N8 /dev/urandom > /stamp
COPY f /f
RUN cat /f > /copied && od -An -tx1 -N8 /dev/urandom > /stamp2
"""


def _build(context: Path, out: Path, cache: Path, *args: tuple[str, str | None]) -> Image:
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=out,
            cache=True,
            cache_dir=cache,
            build_args=args,
        ),
        verbose=False,
    )
    return Image.open(out)


def test_layer_cache_reuses_and_invalidates(busybox_rootfs: Path, tmp_path: Path) -> None:
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    context = write_tree(
        tmp_path / "ctx", {"Dockerfile": DOCKERFILE.format(base=f"oci:{layout}"), "f": "one\n"}
    )
    cache = tmp_path / "cache"
    with (
        _build(context, tmp_path / "1.tar", cache) as first,
        _build(context, tmp_path / "2.tar", cache) as second,
    ):
        assert second.file("/stamp").read_text() == first.file("/stamp").read_text()
        assert second.file("/stamp2").read_text() == first.file("/stamp2").read_text()
        assert [layer.diff_id for layer in second.layers] == [
            layer.diff_id for layer in first.layers
        ]
        assert [h.created_by for h in second.history] == [h.created_by for h in first.history]
    (context / "f").write_text("two\n")
    with (
        _build(context, tmp_path / "3.tar", cache) as changed,
        Image.open(tmp_path / "1.tar") as first,
    ):
        assert changed.file("/stamp").read_text() == first.file("/stamp").read_text()
        assert changed.file("/copied").read_text() == "two\n"
        assert changed.file("/stamp2").read_text() != first.file("/stamp2").read_text()
    with (
        _build(context, tmp_path / "4.tar", cache, ("FLAVOUR", "spicy")) as other,
        Image.open(tmp_path / "1.tar") as first,
    ):
        assert other.file("/flavour").read_text() == "spicy\n"
        assert other.file("/stamp").read_text() != first.file("/stamp").read_text()
