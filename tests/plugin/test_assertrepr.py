"""pytest_assertrepr_compare: plain asserts on modes, files and paths explain themselves."""

from __future__ import annotations

import pytest

from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.repr import explain_comparison, format_mode


def run_assert(project: pytest.Pytester, statement: str) -> pytest.RunResult:
    project.makepyfile(f"""
        import pytest

        @pytest.mark.dockerfile(image="images/app.tar")
        def test_it(image):
            {statement}
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    return result


def test_mode_compared_with_an_int(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert image.file("/usr/bin/ping").mode == 0o755')
    result.stdout.fnmatch_lines(
        [
            "E       *assert mode 0o4755 (rwsr-xr-x) == 0o755 (rwxr-xr-x)",
            "E         set but not expected: setuid",
        ]
    )


def test_int_compared_with_a_mode(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert 0o640 == image.file("/etc/passwd").mode')
    result.stdout.fnmatch_lines(
        [
            "E       *assert mode 0o640 (rw-r-----) == 0o644 (rw-r--r--)",
            "E         expected but not set: other read",
        ]
    )


def test_missing_path_shows_the_nearest_paths(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert "/usr/bin/pnig" in image')
    result.stdout.fnmatch_lines(
        [
            f"E       *assert /usr/bin/pnig in image {project.path}/images/app.tar",
            "E         nearest existing paths:",
            "E           /usr/bin/ping",
            "E         /usr/bin contains: ping, sh",
        ]
    )


def test_missing_path_lists_the_nearest_existing_directory(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert "opt/app/bin/run" in image')
    result.stdout.fnmatch_lines(
        [
            "E       *assert /opt/app/bin/run in image *app.tar",
            "E         / contains: bin, etc, home, tmp, usr",
        ]
    )


def test_missing_path_finds_the_same_name_elsewhere(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert "/srv/config.ini" in image')
    result.stdout.fnmatch_lines(["E           /home/app/config.ini"])


def test_unexpected_path_shows_the_layer_and_instruction(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert "/usr/bin/ping" not in image')
    result.stdout.fnmatch_lines(
        [
            "E       *assert /usr/bin/ping not in image *app.tar",
            "E         /usr/bin/ping: file 0o4755 (rwsr-xr-x) root:root 5 bytes",
            "E         written by layer 1 (*): RUN chmod u+s /usr/bin/ping && echo token >*",
        ]
    )


def test_files_compared(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert image.file("/bin/sh") == image.file("/usr/bin/ping")')
    result.stdout.fnmatch_lines(
        [
            "E       *assert /bin/sh == /usr/bin/ping",
            "E         differing attributes:",
            "E           mode: 0o755 (rwxr-xr-x) != 0o4755 (rwsr-xr-x)",
            "E           size: 10 != 5",
            "E           sha256: *",
            "E         left written by layer 0 (*): ADD rootfs /",
            "E         right written by layer 1 (*): RUN chmod u+s*",
        ]
    )


def test_other_comparisons_are_left_to_pytest(sample: Image) -> None:
    def name_of(image: Image) -> str:
        return "x"

    assert explain_comparison("==", 1, 2, name_of) is None
    assert explain_comparison("==", True, sample.file("/etc").mode, name_of) is None
    assert explain_comparison("in", 3, sample, name_of) is None
    assert explain_comparison("<", sample.file("/etc").mode, 3, name_of) is None
    assert explain_comparison("==", "/etc", sample.file("/etc"), name_of) is None


def test_format_mode() -> None:
    assert format_mode(0o4755) == "0o4755 (rwsr-xr-x)"
    assert format_mode(0o1777) == "0o1777 (rwxrwxrwt)"
    assert format_mode(0o100644) == "0o644 (rw-r--r--)"


def test_mode_compared_with_a_full_mode(project: pytest.Pytester) -> None:
    result = run_assert(project, 'assert image.file("/usr/bin/ping").mode == 0o100755')
    result.stdout.fnmatch_lines(
        [
            "E       *assert mode 0o104755 (-rwsr-xr-x) == 0o100755 (-rwxr-xr-x)",
            "E         set but not expected: setuid",
        ]
    )


def test_files_differing_only_by_path(sample: Image) -> None:
    file = sample.file("/etc/passwd")
    lines = explain_comparison("==", file, file, lambda image: "x")
    assert lines is not None
    assert lines[:3] == [
        "/etc/passwd == /etc/passwd",
        "differing attributes:",
        "  none besides the path and the layer",
    ]
