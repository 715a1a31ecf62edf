"""Targeted checks that the fixture images contain what they are meant to exercise.

They guard the differential tests: if docker stopped producing an opaque directory or a
capability, the comparisons above would still pass without covering the case.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.reference.conftest import Reference
from tests.reference.listing import tar_listing

pytestmark = pytest.mark.docker
GETCAP = "/sbin/getcap"


def _layer_members(reference: Reference) -> list[list[str]]:
    found: list[list[str]] = []
    with tarfile.open(reference.saved) as outer:
        manifest = outer.extractfile("manifest.json")
        assert manifest is not None
        for name in json.load(manifest)[0]["Layers"]:
            layer = outer.extractfile(name)
            assert layer is not None
            with tarfile.open(fileobj=layer, mode="r|") as inner:
                found.append([m.name for m in inner])
    return found


def test_deletions_image_has_whiteouts_and_opaque_dirs(
    reference_factory: Callable[[str], Reference],
) -> None:
    layers = _layer_members(reference_factory("deletions"))
    names = [name for layer in layers for name in layer]
    assert "data/opaque/.wh..wh..opq" in names
    assert "root/.wh..wh..opq" in names
    assert "data/.wh.gone" in names
    assert "etc/.wh.group" in names


def test_deleted_paths_are_gone_but_found_in_all_layers(
    reference_factory: Callable[[str], Reference],
) -> None:
    with Image.open(reference_factory("deletions").saved) as image:
        assert not image.file("/data/gone/deep/b").exists
        assert "/data/gone/deep/b" not in image
        assert "/data/gone/deep/b" in image.glob("/data/**", all_layers=True)
        assert image.listdir("/data/opaque") == ["new", "sub"]
        assert image.listdir("/data/opaque/sub") == []
        assert image.file("/data/d2f").is_file
        assert image.file("/data/f2d").is_dir
        assert image.file("/etc/passwd").mode == 0o600


def _getcap(xattr: bytes, tmp_path: Path) -> str:
    """What libcap's getcap prints for a file carrying ``xattr`` as security.capability."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    os.setxattr(probe, "security.capability", xattr)
    out = subprocess.run(
        [GETCAP, str(probe)], capture_output=True, text=True, check=True
    ).stdout.strip()
    return out.removeprefix(str(probe)).strip()


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/usr/local/bin/bind-low", "cap_net_bind_service=ep"),
        ("/usr/local/bin/many-caps", "cap_net_admin,cap_net_raw=eip"),
        ("/usr/local/bin/inherit-only", "cap_chown=i"),
        # docker's legacy COPY drops security.capability of context files.
        ("/usr/local/bin/cap-copied", None),
    ],
)
def test_capabilities_are_decoded(
    reference_factory: Callable[[str], Reference], tmp_path: Path, path: str, text: str | None
) -> None:
    reference = reference_factory("debian")
    exported = tar_listing(reference.exported)[path]
    if text is None:
        assert "security.capability" not in exported.xattrs
    else:
        assert _getcap(exported.xattrs["security.capability"], tmp_path) == text
    with Image.open(reference.saved) as image:
        assert image.file(path).capabilities == text
        assert image.file(path).xattrs == exported.xattrs
        assert image.file("/bin/true").capabilities is None


def test_hardlink_names_keep_their_own_metadata(
    reference_factory: Callable[[str], Reference],
) -> None:
    with Image.open(reference_factory("links").saved) as image:
        assert image.file("/srv/hard1").mode == 0o4755
        assert image.file("/srv/dir/hard3").mode == 0o644
        assert image.file("/srv/dir/hard3").read_text() == "shared\n"
        assert not image.file("/srv/hard2").exists
        assert image.file("/srv/passwd-hard").read_bytes() == image.file("/etc/passwd").read_bytes()
