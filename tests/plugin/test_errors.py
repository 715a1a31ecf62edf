"""Every way the ``image`` fixture can be misconfigured yields a test error that says what to do."""

from __future__ import annotations

import pytest

from tests.plugin.imagetar import write_multiplatform

USES_IMAGE = """
def test_uses(image):
    pass
"""


def test_no_image_configured_names_every_way_to_configure_one(project: pytest.Pytester) -> None:
    project.makepyfile(USES_IMAGE)
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*UsageError: test_no_image_configured_names_every_way_to_configure_one.py::test_uses:"
            " no image configured for the 'image' fixture",
            "*hint: pass --imagebuild-image PATH, set imagebuild_image = PATH in the ini file,*",
        ]
    )
    assert (
        "hint: pass --imagebuild-image PATH, set imagebuild_image = PATH in the ini file,"
        " mark the test with @pytest.mark.dockerfile(image='PATH') or"
        " @pytest.mark.dockerfile('Dockerfile'), or parametrize it:"
        " @pytest.mark.parametrize('image', ['PATH'], indirect=True)\n"
    ) in result.stdout.str()


def test_building_marker_beats_the_configured_image(project: pytest.Pytester) -> None:
    project.makefile("", Dockerfile="FROM scratch\nARG A\nLABEL a=$A\n")
    project.makepyfile("""
        import pytest

        @pytest.mark.dockerfile("Dockerfile", build_args={"A": "1"})
        def test_built(image):
            assert image.labels == {"a": "1"}
    """)
    result = project.runpytest("--imagebuild-image", "images/app.tar")
    result.assert_outcomes(passed=1)


def test_bare_marker_builds_the_test_dirs_dockerfile(project: pytest.Pytester) -> None:
    project.makefile("", **{"sub/Dockerfile": "FROM scratch\nLABEL where=sub\n"})
    project.makepyfile(
        **{
            "sub/test_bare": """
        import pytest

        @pytest.mark.dockerfile()
        def test_built(image):
            assert image.labels == {"where": "sub"}
    """
        }
    )
    project.runpytest().assert_outcomes(passed=1)


def test_dockerfile_parameter_asks_for_a_build(project: pytest.Pytester) -> None:
    (project.path / "docker").mkdir()
    (project.path / "docker" / "Dockerfile.alpine").write_text("FROM scratch\nLABEL name=alpine\n")
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("image", ["docker/Dockerfile.alpine"], indirect=True)
        def test_built(image):
            assert image.labels == {"name": "alpine"}
    """)
    project.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            '"Dockerfile", image="x.tar"',
            "image= opens an existing image and cannot be combined with path",
        ),
        (
            'image="x.tar", target="prod", context="."',
            "image= * cannot be combined with context, target",
        ),
        ('"a", "b"', "unexpected arguments: 'b'"),
        ('"a", path="b"', "unexpected arguments: path given twice"),
        ('tag="x", image="a.tar"', "unexpected arguments: tag='x'"),
        ('build_args={"A": 1}', "build_args must be a dict of str to str, got {'A': 1}"),
        ("image=3", "image must be a path, got 3"),
        ('image="x.tar", platform=["linux/amd64"]', "platform must be a string, got *"),
        ("target=1", "target must be a string, got 1"),
    ],
)
def test_bad_marker_arguments(project: pytest.Pytester, marker: str, message: str) -> None:
    project.makepyfile(f"""
        import pytest

        @pytest.mark.dockerfile({marker})
        def test_marked(image):
            pass
    """)
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"E   *UsageError: @pytest.mark.dockerfile for *::test_marked: {message}"]
    )
    result.stdout.no_fnmatch_line("*factory.py*")


def test_missing_tarball_from_the_option(project: pytest.Pytester) -> None:
    project.makepyfile(USES_IMAGE)
    result = project.runpytest("--imagebuild-image", "nope.tar")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*UsageError: image not found: {project.path}/nope.tar (from --imagebuild-image)",
        ]
    )


def test_missing_tarball_from_the_marker(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.dockerfile(image="gone.tar")
        def test_marked(image):
            pass
    """)
    result = project.runpytest()
    result.stdout.fnmatch_lines(
        [
            f"*image not found: {project.path}/gone.tar (from @pytest.mark.dockerfile for *)",
        ]
    )


def test_missing_tarball_from_the_ini(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nfilterwarnings = error\nimagebuild_image = lost.tar\n")
    project.makepyfile(USES_IMAGE)
    result = project.runpytest()
    result.stdout.fnmatch_lines(
        [
            f"*image not found: {project.path}/lost.tar (from imagebuild_image in"
            f" {project.path}/tox.ini)",
        ]
    )


@pytest.mark.parametrize(
    "content", [b"", b"this is not a tar archive" * 40, b"\x1f\x8b\x08garbage"]
)
def test_corrupt_tarball_names_the_file(project: pytest.Pytester, content: bytes) -> None:
    (project.path / "broken.tar").write_bytes(content)
    project.makepyfile(USES_IMAGE)
    result = project.runpytest("--imagebuild-image", "broken.tar")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*ImageFormatError: *{project.path}/broken.tar*"])


def test_tarball_without_manifest_names_the_file(project: pytest.Pytester) -> None:
    import tarfile

    with tarfile.open(project.path / "empty.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("hello.txt"))
    project.makepyfile(USES_IMAGE)
    result = project.runpytest("--imagebuild-image", "empty.tar")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*ImageFormatError: *{project.path}/empty.tar*"])


def test_format_errors_hide_the_reader_frames(project: pytest.Pytester) -> None:
    (project.path / "broken.tar").write_bytes(b"x" * 100)
    project.makepyfile(USES_IMAGE)
    result = project.runpytest("--imagebuild-image", "broken.tar")
    result.stdout.no_fnmatch_line("*pytest_imagebuild/image/*")
    assert len(result.outlines) < 25


def test_missing_platform_says_how_to_choose(project: pytest.Pytester) -> None:
    write_multiplatform(project.path / "multi.tar", ["arm64", "s390x"])
    project.makepyfile(USES_IMAGE)
    result = project.runpytest(
        "--imagebuild-image", "multi.tar", "--imagebuild-platform", "linux/ppc64le"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"E   *ImageFormatError: *{project.path}/multi.tar*linux/ppc64le*",
            "*hint: it holds linux/arm64, linux/s390x: choose one with --imagebuild-platform, the"
            " imagebuild_platform ini key or @pytest.mark.dockerfile(platform=...)",
        ]
    )
