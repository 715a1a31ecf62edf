"""The ``imagebuild`` command: kaniko's flags, exit codes and messages."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.cli import make_parser, options_from_args
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from tests.builder.build_support import write_tree


def imagebuild(
    *args: str | Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_imagebuild", *map(str, args)],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
        cwd=Path(
            __file__
        ).parent,  # no Dockerfile here: a relative --dockerfile means the context's
    )


def test_builds_a_tarball_with_kaniko_flags(tmp_path: Path) -> None:
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM scratch\nARG FROM_ENV\nARG GIVEN\nLABEL a=$FROM_ENV b=$GIVEN\n"
            "COPY f /f\n",
            "f": "file\n",
        },
    )
    out = tmp_path / "image.tar"
    proc = imagebuild(
        "--context",
        ctx,
        "--dockerfile",
        "Dockerfile",
        "--destination",
        "reg.example/a:1",
        "-d",
        "reg.example/a:latest",
        "--no-push",
        "--tar-path",
        out,
        "--build-arg",
        "FROM_ENV",
        "--build-arg",
        "GIVEN=yes",
        "--label",
        "team=x",
        "--verbosity",
        "warn",
        "--digest-file",
        tmp_path / "digest",
        "--image-name-with-digest-file",
        tmp_path / "names",
        "--image-name-tag-with-digest-file",
        tmp_path / "tags",
        env={"FROM_ENV": "env-value"},
    )
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as image:
        assert image.labels == {"a": "env-value", "b": "yes", "team": "x"}
        assert set(image.repo_tags) == {"reg.example/a:1", "reg.example/a:latest"}
        assert image.file("/f").read_text() == "file\n"
    digest = (tmp_path / "digest").read_text()
    assert digest.startswith("sha256:")
    assert (tmp_path / "tags").read_text().splitlines() == [
        f"reg.example/a:1@{digest}",
        f"reg.example/a:latest@{digest}",
    ]
    assert (tmp_path / "names").read_text().splitlines() == [
        f"reg.example/a@{digest}",
        f"reg.example/a@{digest}",
    ]


def test_dockerfile_relative_to_context_and_tar_stdin(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {"sub/Dockerfile": b"FROM scratch\nCOPY x /x\n", "x": b"x"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "out.tar"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_imagebuild",
            "-c",
            "tar://stdin",
            "-f",
            "sub/Dockerfile",
            "--no-push",
            "--tar-path",
            str(out),
        ],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as image:
        assert image.file("/x").read_text() == "x"


def test_failure_exit_one_with_location_and_no_tarball(tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nCOPY nope /x\n"})
    out = tmp_path / "out.tar"
    proc = imagebuild("-c", ctx, "--no-push", "--tar-path", out)
    assert proc.returncode == 1
    assert f"{ctx}/Dockerfile:2" in proc.stderr
    assert "COPY nope /x" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--tar-path", "x.tar"],  # neither --destination nor --no-push
        ["--no-push", "--unknown-flag"],
        ["--no-push", "--verbosity", "loud"],
        ["--no-push", "--build-arg", "=v"],
        ["--no-push", "--context", "s3://bucket/ctx.tar.gz"],
    ],
)
def test_usage_errors_exit_two(tmp_path: Path, args: list[str]) -> None:
    proc = imagebuild(*args)
    assert proc.returncode == 2, proc.stderr


def test_kaniko_no_push_env_and_bool_values() -> None:
    args = make_parser().parse_args(["--single-snapshot=true", "--cache=false", "-d", "r/x:1"])
    options = options_from_args(args, {"KANIKO_NO_PUSH": "true"})
    assert options.no_push
    assert options.single_snapshot
    assert not options.cache
    with pytest.raises(UsageError):
        options_from_args(make_parser().parse_args([]), {})


def test_run_in_chroot_mode(busybox_rootfs: Path, tmp_path: Path) -> None:
    """Where mounts are refused (a docker container's default seccomp), RUN uses chroot."""
    from tests.builder.build_support import make_base

    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    ctx = write_tree(
        tmp_path / "ctx",
        {"Dockerfile": f"FROM oci:{layout}\nUSER app\nRUN id -u > /tmp/uid\n"},
    )
    out = tmp_path / "out.tar"
    proc = imagebuild(
        "-c", ctx, "--no-push", "--tar-path", out, env={"IMAGEBUILD_SANDBOX": "chroot"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "imagebuild: sandbox: " in proc.stderr
    assert "chroot" in proc.stderr.split("imagebuild: sandbox: ")[1].splitlines()[0]
    with Image.open(out) as image:
        assert image.file("/tmp/uid").read_text() == "1000\n"


def test_a_defect_is_one_line_with_exit_70_and_the_traceback_only_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_imagebuild import cli

    def defect(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "build", defect)
    argv = ["--context", str(tmp_path), "--no-push"]
    assert cli.main(argv) == 70
    err = capsys.readouterr().err
    assert err.startswith("imagebuild: internal error: ZeroDivisionError: division by zero at ")
    assert "Traceback" not in err
    assert "hint: this is a defect of imagebuild" in err
    monkeypatch.setenv("IMAGEBUILD_TRACEBACK", "1")
    assert cli.main(argv) == 70
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_default_dockerfile_is_the_contexts_not_the_current_directorys(tmp_path: Path) -> None:
    """A Dockerfile in the current directory is a decoy unless --dockerfile names it."""
    here = write_tree(tmp_path / "here", {"Dockerfile": "FROM scratch\nLABEL from=cwd\n"})
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nLABEL from=context\n"})
    out = tmp_path / "out.tar"
    for args, expected in (((), "context"), (("--dockerfile", "Dockerfile"), "cwd")):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest_imagebuild", "-c", str(ctx), "--no-push",
             "--tar-path", str(out), *args],
            cwd=here, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        with Image.open(out) as image:
            assert image.labels == {"from": expected}
    empty = write_tree(tmp_path / "empty", {"f": "x"})
    missing = imagebuild("-c", empty, "--no-push")
    assert missing.returncode == 1
    assert f"no Dockerfile in the context {empty}" in missing.stderr
