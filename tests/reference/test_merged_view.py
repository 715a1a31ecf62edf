"""The merged view of ``docker save`` output equals ``docker export`` of a container."""

from __future__ import annotations

import json
import tarfile

import pytest

from pytest_imagebuild.image import Image
from tests.reference.conftest import Reference
from tests.reference.listing import (
    describe_differences,
    export_vs_image,
    image_listing,
    tar_listing,
)
from tests.support.tarfiles import extract_all

pytestmark = pytest.mark.docker


def test_merged_view_matches_export(reference: Reference) -> None:
    with Image.open(reference.saved) as image:
        expected, got = export_vs_image(
            tar_listing(reference.exported), image_listing(image.walk())
        )
    differences = describe_differences(expected, got)
    assert not differences, differences


def _saved_layer_names(reference: Reference) -> list[str]:
    with tarfile.open(reference.saved) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        return list(json.load(manifest)[0]["Layers"])


def test_layer_files_match_layer_tarballs(
    reference: Reference, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each layer's own entries (whiteouts excluded) equal that layer tarball's listing."""
    workdir = tmp_path_factory.mktemp(f"layers-{reference.name}")
    names = _saved_layer_names(reference)
    with tarfile.open(reference.saved) as tar:
        extract_all(tar, workdir, [tar.getmember(n) for n in names])
    with Image.open(reference.saved) as image:
        assert len(image.layers) == len(names)
        for index, name in enumerate(names):
            expected = {
                path: entry
                for path, entry in tar_listing(workdir / name).items()
                if not path.rsplit("/", 1)[-1].startswith(".wh.")
            }
            got = image_listing(image.layer_files(index))
            differences = describe_differences(expected, got)
            assert not differences, f"layer {index} ({name}):\n{differences}"
