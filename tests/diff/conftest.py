"""Image pairs for the diff tests, built by the embedded executor on the busybox base."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree

Builder = Callable[..., Path]


@pytest.fixture(scope="session")
def base_ref(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("diff-base"))
    return f"oci:{layout}"


@pytest.fixture
def build_tar(tmp_path: Path) -> Builder:
    """Build a Dockerfile into a tarball under tmp_path; ``files`` and the Dockerfile are
    written into ``context`` (a fresh directory unless given)."""
    count = iter(range(1000))

    def run(
        dockerfile: str,
        files: dict[str, str] | None = None,
        context: Path | None = None,
        **kwargs: object,
    ) -> Path:
        n = next(count)
        context = context or tmp_path / f"ctx{n}"
        write_tree(context, {**(files or {}), "Dockerfile": dockerfile})
        out = tmp_path / f"out{n}.tar"
        options = BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=out,
            created="2020-01-01T00:00:00Z",
            **kwargs,  # type: ignore[arg-type]
        )
        build(options, verbose=False)
        return out

    return run


@pytest.fixture
def pair(base_ref: str, build_tar: Builder) -> Iterator[Callable[[str, str], tuple[Image, Image]]]:
    """Build two Dockerfile tails on the same base and open both images."""
    opened: list[Image] = []

    def make(first: str, second: str) -> tuple[Image, Image]:
        a = Image.open(build_tar(f"FROM {base_ref}\n{first}"))
        opened.append(a)
        b = Image.open(build_tar(f"FROM {base_ref}\n{second}"))
        opened.append(b)
        return a, b

    yield make
    for image in opened:
        image.close()
