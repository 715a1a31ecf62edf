"""Where the ``image`` fixture takes its image from: option, ini, marker, parameter."""

from __future__ import annotations

import re

import pytest

from tests.plugin.imagetar import write_multiplatform, write_sample

SHOW_ARCH = """
def test_arch(image):
    print("ARCH", image.architecture, "ID", image.id)
"""


def arch_of(result: pytest.RunResult) -> list[str]:
    return re.findall(r"\bARCH (\S+)", result.stdout.str())


def test_option_opens_the_image(project: pytest.Pytester) -> None:
    project.makepyfile(SHOW_ARCH)
    result = project.runpytest("-s", "--imagebuild-image", "images/app.tar")
    result.assert_outcomes(passed=1)
    assert arch_of(result) == ["amd64"]


def test_option_is_relative_to_the_invocation_dir(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(SHOW_ARCH)
    monkeypatch.chdir(project.mkdir("elsewhere"))
    result = project.runpytest(
        "-s", "--rootdir", "..", "--imagebuild-image", "../images/app.tar", ".."
    )
    result.assert_outcomes(passed=1)


def test_ini_path_is_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    write_sample(pytester.path / "conf" / "images" / "app.tar", architecture="arm64")
    (pytester.path / "conf" / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings = error\nimagebuild_image = images/app.tar\n"
    )
    pytester.makepyfile(SHOW_ARCH)
    result = pytester.runpytest("-s", "-c", "conf/pytest.ini", "--rootdir", ".")
    result.assert_outcomes(passed=1)
    assert arch_of(result) == ["arm64"]
    result.stdout.fnmatch_lines(
        [f"imagebuild: image {pytester.path}/conf/images/app.tar (3 layers, linux/arm64), *"]
    )


def test_option_overrides_ini(project: pytest.Pytester) -> None:
    write_sample(project.path / "other.tar", architecture="arm64")
    project.makeini("[pytest]\nfilterwarnings = error\nimagebuild_image = images/app.tar\n")
    project.makepyfile(SHOW_ARCH)
    assert arch_of(project.runpytest("-s")) == ["amd64"]
    assert arch_of(project.runpytest("-s", "--imagebuild-image", "other.tar")) == ["arm64"]


def test_marker_image_is_relative_to_the_test_file(project: pytest.Pytester) -> None:
    write_sample(project.path / "sub" / "local.tar", architecture="arm64")
    project.makepyfile(
        **{
            "sub/test_marked": """
        import pytest

        @pytest.mark.dockerfile(image="local.tar")
        def test_arch(image):
            print("ARCH", image.architecture)
    """
        }
    )
    result = project.runpytest("-s", "--imagebuild-image", "images/app.tar")
    result.assert_outcomes(passed=1)
    assert arch_of(result) == ["arm64"]


def test_nearest_marker_wins(project: pytest.Pytester) -> None:
    write_sample(project.path / "arm.tar", architecture="arm64")
    write_sample(project.path / "s390.tar", architecture="s390x")
    project.makepyfile("""
        import pytest

        pytestmark = pytest.mark.dockerfile(image="images/app.tar")

        def test_module(image):
            print("ARCH", image.architecture, "module")

        @pytest.mark.dockerfile(image="arm.tar")
        class TestClass:
            def test_class(self, image):
                print("ARCH", image.architecture, "class")

            @pytest.mark.dockerfile(image="s390.tar")
            def test_function(self, image):
                print("ARCH", image.architecture, "function")
    """)
    result = project.runpytest("-s")
    result.assert_outcomes(passed=3)
    assert arch_of(result) == ["amd64", "arm64", "s390x"]


def test_indirect_parametrization(project: pytest.Pytester) -> None:
    write_sample(project.path / "arm.tar", architecture="arm64")
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("image", ["images/app.tar", "arm.tar"], indirect=True)
        def test_arch(image):
            print("ARCH", image.architecture)
    """)
    result = project.runpytest("-s", "-v")
    result.assert_outcomes(passed=2)
    assert arch_of(result) == ["amd64", "arm64"]
    result.stdout.fnmatch_lines(["*::test_arch?images/app.tar? *", "*::test_arch?arm.tar? *"])


def test_image_factory_reuses_open_images(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.dockerfile(image="images/app.tar")
        def test_same(image, image_factory):
            assert image_factory.open("images/app.tar") is image
            assert image_factory.index_cache.name == "index"
            assert image_factory.index_cache.parent.name == "imagebuild"
    """)
    project.runpytest().assert_outcomes(passed=1)


SHOW_PLATFORM = """
def test_platform(image, image_factory):
    print("ARCH", image.file("/etc/arch").read_text())
    print("PLATFORM", image_factory.platform)
"""


def test_platform_option_picks_from_a_multiplatform_image(project: pytest.Pytester) -> None:
    write_multiplatform(project.path / "multi.tar", ["amd64", "arm64", "s390x"])
    project.makepyfile(SHOW_PLATFORM)
    result = project.runpytest(
        "-s", "--imagebuild-image", "multi.tar", "--imagebuild-platform", "linux/s390x"
    )
    result.assert_outcomes(passed=1)
    assert arch_of(result) == ["s390x"]
    result.stdout.fnmatch_lines(["PLATFORM linux/s390x"])


def test_platform_ini_and_option_precedence(project: pytest.Pytester) -> None:
    write_multiplatform(project.path / "multi.tar", ["amd64", "arm64"])
    project.makeini(
        "[pytest]\nfilterwarnings = error\nimagebuild_image = multi.tar\n"
        "imagebuild_platform = linux/arm64\n"
    )
    project.makepyfile(SHOW_PLATFORM)
    assert arch_of(project.runpytest("-s")) == ["arm64"]
    result = project.runpytest("-s", "--imagebuild-platform", "linux/amd64")
    assert arch_of(result) == ["amd64"]


def test_marker_platform_overrides_the_option(project: pytest.Pytester) -> None:
    write_multiplatform(project.path / "multi.tar", ["amd64", "arm64"])
    project.makepyfile("""
        import pytest

        @pytest.mark.dockerfile(image="multi.tar", platform="linux/arm64")
        def test_arch(image):
            print("ARCH", image.file("/etc/arch").read_text())
    """)
    result = project.runpytest("-s", "--imagebuild-platform", "linux/amd64")
    assert arch_of(result) == ["arm64"]


def test_marker_is_registered(project: pytest.Pytester) -> None:
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.dockerfile(path=None, *, context=None, target=None, build_args=None, "
            "platform=None, image=None, build_contexts=None):*"
        ]
    )


def test_options_and_ini_keys_are_documented(project: pytest.Pytester) -> None:
    result = project.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*--imagebuild-image=PATH*",
            "*--imagebuild-platform=PLATFORM*",
            "*imagebuild_image (string):*",
            "*imagebuild_platform (string):*",
        ]
    )
