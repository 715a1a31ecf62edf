"""Building from the marker, parameters and the factory; reuse within and across runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.buildproject import BASE, STAMPS, build_project, stamps, summary

STAMPED = BASE + (
    "RUN od -An -tx1 -N8 /dev/urandom > /stamp1\n"
    "COPY app.txt /app.txt\n"
    "RUN od -An -tx1 -N8 /dev/urandom > /stamp2\n"
)


def test_marker_builds_once_per_session_and_reuses_across_runs(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(
        pytester,
        busybox_rootfs_tar,
        {"Dockerfile": BASE + "RUN echo hi > /hello\nUSER nobody\n"},
    )
    pytester.makepyfile(
        test_it="""
        import pytest

        pytestmark = pytest.mark.dockerfile()

        def test_hello(image):
            assert image.file("/hello").read_text() == "hi\\n"

        def test_user(image):
            assert image.user == "nobody"

        def test_same_object(image, image_factory):
            assert image_factory.build("Dockerfile") is image
        """
    )
    first = pytester.runpytest()
    first.assert_outcomes(passed=3)
    assert summary(first).startswith("images: 1 built in ")
    assert ", 0 reused, 0 failed; cache " in summary(first)
    first.stdout.fnmatch_lines([f"built  {pytester.path}/Dockerfile: *s, 2.* MB*"])
    second = pytester.runpytest()
    second.assert_outcomes(passed=3)
    assert summary(second).startswith("images: 0 built in 0.00s")
    assert ", 1 reused, 0 failed" in summary(second)
    cleared = pytester.runpytest("--cache-clear")
    assert summary(cleared).startswith("images: 1 built")


def test_changed_context_file_rebuilds_only_later_steps(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"Dockerfile": STAMPED, "app.txt": "one\n"})
    pytester.makepyfile(test_stamps=STAMPS)
    pytester.runpytest().assert_outcomes(passed=1)
    before = stamps(pytester)
    (pytester.path / "app.txt").write_text("two\n")
    # touching a file changes nothing: keys hold content, not mtimes
    (pytester.path / "Dockerfile").touch()
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert summary(result).startswith("images: 1 built")
    assert "(2 steps cached)" in summary(result)  # BASE's ADD and the first RUN
    after = stamps(pytester)
    assert after["stamp1"] == before["stamp1"]  # the step before the COPY came from the cache
    assert after["stamp2"] != before["stamp2"]  # the step after it ran again
    again = pytester.runpytest()
    assert ", 1 reused" in summary(again)
    assert stamps(pytester) == after


def test_unchanged_inputs_at_another_path_reuse_the_build(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    build_project(pytester, busybox_rootfs_tar, {"a/Dockerfile": STAMPED, "a/app.txt": "x\n"})
    (pytester.path / "a" / "rootfs.tar").write_bytes(busybox_rootfs_tar.read_bytes())
    pytester.makepyfile(
        test_two="""
        import pytest

        @pytest.mark.dockerfile("a/Dockerfile")
        def test_a(image):
            pass
        """
    )
    cache = tmp_path / "shared-cache"
    pytester.runpytest("--imagebuild-cache-dir", str(cache)).assert_outcomes(passed=1)
    (pytester.path / "a").rename(pytester.path / "b")
    (pytester.path / "test_two.py").write_text(
        (pytester.path / "test_two.py").read_text().replace("a/Dockerfile", "b/Dockerfile")
    )
    result = pytester.runpytest("--imagebuild-cache-dir", str(cache))
    result.assert_outcomes(passed=1)
    assert ", 1 reused" in summary(result)


def test_marker_on_module_class_and_function(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(
        pytester,
        busybox_rootfs_tar,
        {
            "m/Dockerfile": BASE + "LABEL which=module\n",
            "c/Dockerfile": BASE + "LABEL which=class\n",
            "f/Dockerfile": BASE + "LABEL which=function\n",
        },
    )
    for name in ("m", "c", "f"):
        (pytester.path / name / "rootfs.tar").write_bytes(busybox_rootfs_tar.read_bytes())
    pytester.makepyfile(
        test_places="""
        import pytest

        pytestmark = pytest.mark.dockerfile("m/Dockerfile")

        def test_module(image):
            assert image.labels == {"which": "module"}

        @pytest.mark.dockerfile(context="c")
        class TestClass:
            def test_class(self, image):
                assert image.labels == {"which": "class"}

            @pytest.mark.dockerfile("f/Dockerfile", context="f")
            def test_function(self, image):
                assert image.labels == {"which": "function"}
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    assert summary(result).startswith("images: 3 built")


def test_indirect_parametrization_with_specs_and_targets(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    build_project(
        pytester,
        busybox_rootfs_tar,
        {
            "Dockerfile": BASE.replace("FROM scratch", "FROM scratch AS base")
            + "FROM base AS dev\nLABEL stage=dev\nFROM base AS prod\nLABEL stage=prod\n",
            "Dockerfile.alt": BASE + "LABEL stage=alt\n",
        },
    )
    pytester.makepyfile(
        test_params="""
        import pytest

        @pytest.mark.parametrize(
            ("image", "stage"),
            [
                ({"path": "Dockerfile", "target": "dev"}, "dev"),
                ({"target": "prod"}, "prod"),
                ({"path": "Dockerfile"}, "prod"),
                ("Dockerfile.alt", "alt"),
            ],
            indirect=["image"],
        )
        def test_stage(image, stage):
            assert image.labels == {"stage": stage}

        @pytest.mark.parametrize("target", ["dev", "prod"])
        def test_factory_targets(image_factory, target):
            assert image_factory.build("Dockerfile", target=target).labels == {"stage": target}
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=6)
    assert summary(result).startswith("images: 3 built")
