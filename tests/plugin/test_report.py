"""The header line and the report section attached to failed tests."""

from __future__ import annotations

import pytest

from tests.plugin.imagetar import write_multiplatform

FAILING = """
import pytest

from tests.plugin.imagetar import write_multiplatform

def test_fails(image):
    assert image.user == "root"

def test_passes(image):
    pass

def test_without_image():
    assert False
"""


def test_failed_test_gets_an_image_section(project: pytest.Pytester) -> None:
    project.makepyfile(FAILING)
    result = project.runpytest("--imagebuild-image", "images/app.tar")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_fails _*",
            "*- imagebuild -*",
            f"image:      {project.path}/images/app.tar",
            "id:         sha256:*",
            "platform:   linux/amd64",
            "tags:       imagebuild-test/sample:1",
            "user:       app",
            "workdir:    /home/app",
            'entrypoint: ["/bin/sh", "-c"]',
            'cmd:        ["echo hello"]',
            "env:        ",
            "  PATH=/usr/bin:/bin",
            "  LANG=C.UTF-8",
            "layers:     3",
            "  layer 0 (*): ADD rootfs /",
            "  layer 1 (*): RUN chmod u+s /usr/bin/ping && echo token > /tmp/secret",
            "  layer 2 (*): RUN rm /tmp/secret && mkdir /home/app",
            "*_ test_without_image _*",
        ]
    )
    assert result.stdout.str().count("- imagebuild -") == 1


def test_section_names_parametrized_images(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("image", ["images/app.tar"], indirect=True)
        def test_fails(image):
            assert False
    """)
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*- imagebuild -*", f"image:      {project.path}/images/app.tar"])


def test_header_names_the_configured_image(project: pytest.Pytester) -> None:
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest("--imagebuild-image", "images/app.tar")
    result.stdout.fnmatch_lines(
        [
            f"imagebuild: image {project.path}/images/app.tar (3 layers, linux/amd64),"
            f" index cache {project.path}/.pytest_cache/d/imagebuild/index",
        ]
    )


def test_header_reports_an_image_that_cannot_open(project: pytest.Pytester) -> None:
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest("--imagebuild-image", "missing.tar")
    result.stdout.fnmatch_lines(
        [
            f"imagebuild: image {project.path}/missing.tar (cannot open: image not found:"
            f" {project.path}/missing.tar (from --imagebuild-image)), index cache *",
        ]
    )
    result.assert_outcomes(passed=1)


def test_header_only_with_verbose_when_nothing_is_configured(project: pytest.Pytester) -> None:
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest()
    result.stdout.no_fnmatch_line("imagebuild:*")
    result = project.runpytest("-v")
    result.stdout.fnmatch_lines(["imagebuild: no image configured, index cache */imagebuild/index"])


def test_header_without_cache_provider(project: pytest.Pytester) -> None:
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest("-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["imagebuild: no image configured, no index cache"])


def test_index_cache_is_written(project: pytest.Pytester) -> None:
    project.makepyfile("""
        def test_open(image):
            assert "/etc/passwd" in image
    """)
    project.runpytest("--imagebuild-image", "images/app.tar").assert_outcomes(passed=1)
    assert (project.path / ".pytest_cache/d/imagebuild/index").is_dir()


def test_header_counts_a_single_layer(project: pytest.Pytester) -> None:
    write_multiplatform(project.path / "multi.tar", ["arm64"])
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest("--imagebuild-image", "multi.tar")
    result.stdout.fnmatch_lines(["imagebuild: image *multi.tar (1 layer, linux/arm64), *"])
