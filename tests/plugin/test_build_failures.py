"""A failed build reads like a compiler error, once per image, with the whole log attached."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project, summary

FAILING = BASE + (
    "RUN echo preparing\n"
    "RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do \\\n"
    "      echo line $i; done; echo 'config missing' >&2; exit 7\n"
    "RUN echo never\n"
)


def test_failing_run_shows_location_command_exit_code_and_tail(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": FAILING})
    pytester.makepyfile(
        test_fail="""
        import pytest

        pytestmark = pytest.mark.dockerfile()

        def test_one(image):
            pass

        def test_two(image):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    dockerfile = pytester.path / "Dockerfile"
    for name in ("test_one", "test_two"):
        result.stdout.fnmatch_lines(
            [
                f"*ERROR at setup of {name}*",
                f"E   pytest_imagebuild.errors.BuildError: {dockerfile}:4:"
                " RUN returned a non-zero code: 7",
                "*instruction: RUN for i in 1 2 3*exit 7",
                "*exit code: 7",
                "*output (last lines):",
                "*line 25",
                "*config missing",
                "*- imagebuild build log -*",
                "0: ADD rootfs.tar /",
                "0: RUN echo preparing",
                "preparing",
                "line 1",
            ]
        )
    assert "never" not in result.stdout.str()
    # the second test got the remembered failure: one build attempt
    assert summary(result).startswith("images: 0 built")
    cache = pytester.path / ".pytest_cache/d/imagebuild"
    assert summary(result).endswith(f"0 reused, 1 failed; cache {cache}")
    # a failure is not cached across runs: fixing the Dockerfile builds it
    (pytester.path / "Dockerfile").write_text(BASE + "RUN echo fixed\n")
    pytester.runpytest().assert_outcomes(passed=2)


def test_dockerfile_syntax_error_points_at_the_line(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": BASE + "COPY\n"})
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.dockerfile()
        def test_it(image):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"E   pytest_imagebuild.errors.DockerfileError: {pytester.path}/Dockerfile:3: COPY *"]
    )


def test_missing_dockerfile_names_the_path(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(
        **{
            "sub/test_bare": """
        import pytest

        @pytest.mark.dockerfile()
        def test_built(image):
            pass
        """
        }
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"E   *Error: *{pytester.path}/sub/Dockerfile*"])


def test_missing_context_directory(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makefile("", Dockerfile="FROM scratch\n")
    pytester.makepyfile(
        test_ctx="""
        import pytest

        @pytest.mark.dockerfile("Dockerfile", context="nowhere")
        def test_built(image):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"E   pytest_imagebuild.errors.ContextError: build context {pytester.path}/nowhere"
            " is not a directory",
            "*hint: the marker's context= is relative to the test file",
        ]
    )
