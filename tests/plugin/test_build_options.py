"""Every --imagebuild-* build option and its ini key, from the outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, build_project, summary

ARGS = BASE + "ARG COLOUR=none\nARG SIZE=none\nLABEL colour=$COLOUR size=$SIZE\n"

LABELS = """
import pytest

@pytest.mark.dockerfile()
def test_labels(image):
    print("LABELS", image.labels["colour"], image.labels["size"])

@pytest.mark.dockerfile(build_args={"SIZE": "marker"})
def test_marker_wins(image):
    assert image.labels["size"] == "marker"
"""

PLAIN = """
import pytest

@pytest.mark.dockerfile()
def test_plain(image):
    pass
"""


def test_build_args_from_ini_command_line_and_marker(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(
        pytester,
        busybox_rootfs_tar,
        {"Dockerfile": ARGS},
        ini="imagebuild_build_args =\n    COLOUR=ini\n    SIZE=ini\n",
    )
    pytester.makepyfile(test_args=LABELS)
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*LABELS ini ini*"])
    result = pytester.runpytest("-s", "--imagebuild-build-arg", "COLOUR=cli")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*LABELS cli ini*"])


def test_build_arg_without_value_takes_the_environment(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": ARGS})
    pytester.makepyfile(test_args=LABELS)
    monkeypatch.setenv("COLOUR", "from-env")
    result = pytester.runpytest("-s", "--imagebuild-build-arg", "COLOUR")
    result.stdout.fnmatch_lines(["*LABELS from-env none*"])
    bad = pytester.runpytest("--imagebuild-build-arg", "=x")
    bad.stderr.fnmatch_lines(["ERROR: imagebuild build arg '=x': expected K=V or K"])


@pytest.mark.parametrize("how", ["option", "ini"])
def test_no_cache_rebuilds(pytester: pytest.Pytester, busybox_rootfs_tar: Path, how: str) -> None:
    ini = "imagebuild_no_cache = true\n" if how == "ini" else ""
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": BASE}, ini=ini)
    pytester.makepyfile(test_plain=PLAIN)
    args = ["--imagebuild-no-cache"] if how == "option" else []
    pytester.runpytest(*args).assert_outcomes(passed=1)
    result = pytester.runpytest(*args)
    assert summary(result).startswith("images: 1 built")


def test_cache_dir_option_and_ini_key(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    ini = "imagebuild_cache_dir = ci-cache\n"
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": BASE}, ini=ini)
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest()
    assert summary(result).endswith(f"cache {pytester.path}/ci-cache")
    assert len(list((pytester.path / "ci-cache" / "images").glob("*/*/image.tar"))) == 1
    assert not (pytester.path / ".pytest_cache" / "d" / "imagebuild" / "images").exists()
    result = pytester.runpytest("--imagebuild-cache-dir", str(tmp_path / "elsewhere"))
    assert summary(result).startswith("images: 1 built")
    assert summary(result).endswith(f"cache {tmp_path}/elsewhere")


def test_header_names_cache_dir_and_sandbox(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": BASE})
    pytester.makepyfile(test_plain=PLAIN)
    quiet = pytester.runpytest()
    assert "imagebuild: build cache" not in quiet.stdout.str()
    verbose = pytester.runpytest("-v", "--imagebuild-offline", "--imagebuild-no-cache")
    verbose.stdout.fnmatch_lines(
        [
            f"imagebuild: build cache {pytester.path}/.pytest_cache/d/imagebuild (executor"
            " embedded, no-cache, offline), sandbox: *namespace*"
        ]
    )
    configured = pytester.runpytest("--imagebuild-cache-dir", "c")
    configured.stdout.fnmatch_lines(
        [f"imagebuild: build cache {pytester.path}/c (executor embedded), sandbox: *"]
    )


@pytest.mark.parametrize("how", ["option", "ini"])
def test_unknown_executor_is_a_usage_error(pytester: pytest.Pytester, how: str) -> None:
    pytester.makeini("[pytest]\n" + ("imagebuild_executor = kaniko\n" if how == "ini" else ""))
    args = ["--imagebuild-executor", "kaniko"] if how == "option" else []
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --imagebuild-executor: unknown executor 'kaniko' (available: embedded, docker)"]
    )


def test_embedded_executor_by_name(pytester: pytest.Pytester, busybox_rootfs_tar: Path) -> None:
    build_project(
        pytester, busybox_rootfs_tar, {"Dockerfile": BASE}, ini="imagebuild_executor = embedded\n"
    )
    pytester.makepyfile(test_plain=PLAIN)
    pytester.runpytest("--imagebuild-executor", "embedded").assert_outcomes(passed=1)


@pytest.mark.parametrize("how", ["option", "ini"])
def test_keep_build_dirs_keeps_the_whole_build_dir(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, how: str
) -> None:
    ini = "imagebuild_keep_build_dirs = true\n" if how == "ini" else ""
    build_project(
        pytester, busybox_rootfs_tar, {"Dockerfile": BASE + "RUN echo kept > /kept\n"}, ini=ini
    )
    pytester.makepyfile(test_plain=PLAIN)
    args = ["--imagebuild-keep-build-dirs"] if how == "option" else []
    pytester.runpytest(*args).assert_outcomes(passed=1)
    kept_dirs = pytester.path / ".pytest_cache/d/imagebuild/build-dirs"
    (kept,) = kept_dirs.iterdir()
    assert "0: RUN echo kept > /kept\n" in (kept / "build.log").read_text()
    (work,) = kept.glob("imagebuild-*")
    assert (work / "stages" / "0" / "kept").read_text() == "kept\n"
    assert (work / "stages" / "0" / "bin" / "busybox").exists()
    assert any((work / "store").rglob("sha256*"))
    assert "0: RUN echo kept" in (work / "build.log").read_text()
    # a rebuild replaces the kept directory
    pytester.runpytest("--imagebuild-no-cache", *args).assert_outcomes(passed=1)
    (again,) = kept.glob("imagebuild-*")
    assert again != work


def test_keep_build_dirs_keeps_a_failed_build(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    dockerfile = BASE + "RUN echo partial > /partial && exit 7\n"
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": dockerfile})
    pytester.makepyfile(test_plain=PLAIN)
    pytester.runpytest("--imagebuild-keep-build-dirs").assert_outcomes(errors=1)
    (work,) = (pytester.path / ".pytest_cache/d/imagebuild/build-dirs").glob("*/imagebuild-*")
    assert (work / "stages" / "0" / "partial").read_text() == "partial\n"


def test_keep_build_dirs_help_says_what_is_kept(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    assert "--imagebuild-keep-build-dirs keep each build's whole build directory" in text
    assert "under <cache dir>/build-dirs/<key>" in text


@pytest.mark.parametrize("how", ["option", "ini"])
def test_offline_refuses_to_contact_a_registry(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, how: str
) -> None:
    ini = "imagebuild_offline = true\n" if how == "ini" else ""
    # nothing listens on port 9: resolving the tag would fail differently
    files = {"Dockerfile": "FROM 127.0.0.1:9/base:1\n"}
    build_project(pytester, busybox_rootfs_tar, files, ini=ini)
    pytester.makepyfile(test_plain=PLAIN)
    args = ["--imagebuild-offline"] if how == "option" else []
    result = pytester.runpytest(*args)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"E   pytest_imagebuild.errors.RegistryError: {pytester.path}/Dockerfile:1: offline:"
            " base image 127.0.0.1:9/base:1 has never been resolved*",
            "*hint: run once without --imagebuild-offline*",
        ]
    )


def test_offline_builds_local_images(pytester: pytest.Pytester, busybox_rootfs_tar: Path) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": BASE})
    pytester.makepyfile(test_plain=PLAIN)
    pytester.runpytest("--imagebuild-offline").assert_outcomes(passed=1)
