"""ADD's ``--unpack`` (BuildKit 1.17), refused git sources, and the COPY source rules that
docker's builder follows: setuid/setgid dropped from context files, a wildcard matching
nothing beside sources that exist, a symlink source named as written. The parity corpus
(tests/differential/cases) checks the same against docker itself."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.steps.state import StageState
from pytest_imagebuild.errors import BuildError, ImageBuildError
from tests.builder.test_steps_copy import copy, ctx, root_of, stage
from tests.support.httpfiles import serve_directory

__all__ = ["ctx", "stage"]  # fixtures shared with test_steps_copy


def _tarball(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("inside/member.txt")
        data = b"from the archive\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    directory = tmp_path / "served"
    directory.mkdir()
    _tarball(directory / "pkg.tar.gz")
    with serve_directory(directory) as url:
        yield url


def test_local_archive_kept_whole_with_unpack_false(ctx: Path, stage: StageState) -> None:
    _tarball(ctx / "pkg.tar.gz")
    copy("ADD pkg.tar.gz /unpacked/", ctx, stage)
    assert (root_of(stage) / "unpacked/inside/member.txt").read_text() == "from the archive\n"
    copy("ADD --unpack=false pkg.tar.gz /whole/", ctx, stage)
    assert (root_of(stage) / "whole/pkg.tar.gz").is_file()
    assert not (root_of(stage) / "whole/inside").exists()


def test_downloaded_archive_unpacked_only_on_request(
    ctx: Path, stage: StageState, served: str
) -> None:
    copy(f"ADD {served}/pkg.tar.gz /dl/", ctx, stage)
    assert (root_of(stage) / "dl/pkg.tar.gz").is_file()
    copy(f"ADD --unpack {served}/pkg.tar.gz /x/", ctx, stage)
    assert (root_of(stage) / "x/inside/member.txt").read_text() == "from the archive\n"
    assert not (root_of(stage) / "x/pkg.tar.gz").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ADD https://example.invalid/repo.git /src", "ADD of a git repository is not supported"),
        ("ADD git@example.invalid:org/repo.git /src", "ADD of a git repository is not supported"),
        ("ADD --keep-git-dir f.txt /src", "--keep-git-dir applies to git sources"),
        ("ADD --unpack=maybe f.txt /src", "expecting boolean value for flag --unpack"),
    ],
)
def test_git_sources_and_bad_flags_are_errors(
    line: str, message: str, ctx: Path, stage: StageState
) -> None:
    with pytest.raises(ImageBuildError, match=message) as caught:
        copy(line, ctx, stage)
    assert caught.value.location is not None


def test_context_files_lose_setuid_and_setgid(ctx: Path, stage: StageState) -> None:
    os.chmod(ctx / "f.txt", 0o6755)
    os.chmod(ctx / "d", 0o2775)
    copy("COPY f.txt /plain", ctx, stage)
    copy("COPY --chmod=4755 f.txt /asked", ctx, stage)
    copy("COPY . /tree/", ctx, stage)
    root = root_of(stage)
    assert stat.S_IMODE(os.lstat(root / "plain").st_mode) == 0o755
    assert stat.S_IMODE(os.lstat(root / "asked").st_mode) == 0o4755
    assert stat.S_IMODE(os.lstat(root / "tree/d").st_mode) == 0o2775  # directories keep it


def test_stage_files_keep_setuid(ctx: Path, stage: StageState, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "tool").write_text("x\n")
    os.chmod(other / "tool", 0o4755)
    copy("COPY --from=build /tool /tool", ctx, stage, other)
    assert stat.S_IMODE(os.lstat(root_of(stage) / "tool").st_mode) == 0o4755


def test_unmatched_wildcard_beside_existing_sources(ctx: Path, stage: StageState) -> None:
    copy("COPY missing* f.txt /dest/", ctx, stage)
    assert (root_of(stage) / "dest/f.txt").is_file()
    with pytest.raises(BuildError, match=r"nothing matches 'missing\*', 'no\*'"):
        copy("COPY missing* no* /dest/", ctx, stage)


def test_symlink_source_named_as_written(ctx: Path, stage: StageState) -> None:
    (ctx / "alias").symlink_to("f.txt")
    copy("COPY alias d/a /many/", ctx, stage)
    assert (root_of(stage) / "many/alias").read_text() == "hi\n"
    assert not (root_of(stage) / "many/f.txt").exists()


def test_allow_list_exception_matching_nothing_makes_no_directory(
    ctx: Path, stage: StageState
) -> None:
    (ctx / "d" / "sub").mkdir()
    (ctx / "d" / "sub" / "other").write_text("o\n")
    (ctx / ".dockerignore").write_text("*\n!f.txt\n!d/sub/none\n")
    copy("COPY . /out/", ctx, stage)
    assert sorted(os.listdir(root_of(stage) / "out")) == ["f.txt"]
