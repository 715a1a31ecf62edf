"""Other targets and build arguments: ordinary pytest parametrization."""

import pytest


@pytest.mark.parametrize(
    "image", [{"path": "../Dockerfile", "target": "build"}], indirect=True, ids=["build-stage"]
)
def test_build_stage_keeps_its_sources(image):
    assert image.workdir == "/src"
    assert image.listdir("/src/site") == ["running.txt", "testing.txt", "welcome.txt"]
    assert "/out/index.html" in image


@pytest.mark.parametrize("title", ["Notes", "Staging notes"])
def test_title_comes_from_a_build_arg(image_factory, request, title):
    image = image_factory.build(
        request.path.parent.parent / "Dockerfile", build_args={"SITE_TITLE": title}
    )
    assert image.file("/var/www/index.html").contains(f"<h1>{title}</h1>")
