"""ADD <url>: a hostile file name from the server (Content-Disposition) or the URL can only
name a file in the destination directory; anything else falls back to ``__unnamed__``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.support.httpfiles import serve_directory


@pytest.mark.parametrize("filename", ["..", ".", "../../etc/evil", "a/b", "", "/"])
def test_a_hostile_disposition_name_becomes_unnamed(tmp_path: Path, filename: str) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "index.html").write_text("payload\n")
    context = tmp_path / "context"
    context.mkdir()
    header = {"Content-Disposition": f'attachment; filename="{filename}"'}
    with serve_directory(served, header) as url:
        (context / "Dockerfile").write_text(
            f"FROM scratch\nCOPY Dockerfile /keep/Dockerfile\nADD {url}/ /keep/dest/\n"
        )
        out = tmp_path / "out.tar"
        build(
            BuildOptions(
                context=str(context), no_push=True, tar_path=out, build_root=tmp_path / "b"
            ),
            verbose=False,
        )
    with Image.open(out) as image:
        paths = sorted(f.path for f in image.walk())
        expected_name = (
            "evil" if filename == "../../etc/evil" else "b" if filename == "a/b" else None
        )
        name = expected_name or "__unnamed__"
        assert f"/keep/dest/{name}" in paths
        assert image.file(f"/keep/dest/{name}").read_text() == "payload\n"
        assert "/keep/Dockerfile" in paths
        assert not [p for p in paths if p.startswith("/etc")]


def test_names_with_nul_dots_or_slashes_are_no_names() -> None:
    from pytest_imagebuild.builder.steps.remote import download_name

    for hostile in ("x\x00y", "..", ".", ""):
        assert download_name("http://h/", f'attachment; filename="{hostile}"') == "__unnamed__"
    assert download_name("http://h/a/..", None) == "__unnamed__"
    assert download_name("http://h/%2e%2e", None) == "%2e%2e"
