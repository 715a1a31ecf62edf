"""COPY and ADD on a stage root directory."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.builder.context import open_context
from pytest_imagebuild.builder.dockerfile import parse
from pytest_imagebuild.builder.steps.base import Where
from pytest_imagebuild.builder.steps.chmod import parse_chmod
from pytest_imagebuild.builder.steps.copy import CopyResult, CopySources, copy_step
from pytest_imagebuild.builder.steps.state import StageState
from pytest_imagebuild.errors import BuildError, ContextError, DockerfileError


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "d").mkdir(parents=True)
    (root / "f.txt").write_text("hi\n")
    (root / "d" / "a").write_text("x\n")
    (root / "d" / "b").write_text("y\n")
    for path in (root / "f.txt", root / "d" / "a", root / "d" / "b"):
        path.chmod(0o644)
    (root / "d").chmod(0o755)
    return root


@pytest.fixture
def stage(tmp_path: Path) -> StageState:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:\n")
    state = StageState.from_image_config(None)
    state.root = root
    return state


def copy(line: str, ctx: Path, stage: StageState, other: Path | None = None) -> CopyResult:
    instruction = parse("FROM scratch\n" + line).instructions[1]
    context = open_context(str(ctx), None, ctx.parent / "work")
    sources = CopySources(context, lambda ref: other or ctx, ctx.parent / "downloads")
    return copy_step(Where(instruction), stage, sources)


def root_of(stage: StageState) -> Path:
    assert stage.root is not None
    return stage.root


# Hashes below are what docker 20.10's legacy builder wrote for the same sources.
def test_file_dir_and_multi_history_match_docker(ctx: Path, stage: StageState) -> None:
    file_hash = "63e4fd53e0703f1e446126de2246bde90b0a09aeab29d54844d39e4eb74bc3c3"
    assert copy("COPY f.txt /f", ctx, stage).created_by == (
        f"/bin/sh -c #(nop) COPY file:{file_hash} in /f "
    )
    assert "dir:8a9bd6fbf537192678a1e440a5344fc3274f05f650bb576c351166661bfa9909 in /d/ " in (
        copy("COPY d /d/", ctx, stage).created_by
    )
    result = copy("COPY f.txt d/a /m/", ctx, stage)
    assert "multi:6247e14620238df628ffdec822210128e3fce417deb9fe86c2e4e45dbd7ac04a in /m/" in (
        result.created_by
    )
    assert result.changed == ["m", "m/a", "m/f.txt"]
    root = root_of(stage)
    assert (root / "f").read_text() == "hi\n"
    assert sorted(os.listdir(root / "d")) == ["a", "b"]


def test_dest_rules_workdir_and_existing_directory(ctx: Path, stage: StageState) -> None:
    stage.config["WorkingDir"] = "/app"
    result = copy("COPY f.txt rel/", ctx, stage)
    assert result.created_by.endswith(" in rel/ ")  # docker keeps the destination as written
    assert (root_of(stage) / "app" / "rel" / "f.txt").is_file()
    (root_of(stage) / "existing").mkdir()
    copy("COPY f.txt /existing", ctx, stage)
    assert (root_of(stage) / "existing" / "f.txt").is_file()
    with pytest.raises(DockerfileError, match="must be a directory"):
        copy("COPY f.txt d/a /notdir", ctx, stage)


def test_wildcards_and_dockerignore(ctx: Path, stage: StageState) -> None:
    (ctx / ".dockerignore").write_text("d/b\n")
    copy("COPY d/* /w/", ctx, stage)
    assert sorted(os.listdir(root_of(stage) / "w")) == ["a"]
    copy("COPY d /whole/", ctx, stage)
    assert sorted(os.listdir(root_of(stage) / "whole")) == ["a"]
    with pytest.raises(BuildError, match=r"excluded by \.dockerignore"):
        copy("COPY d/b /x", ctx, stage)
    with pytest.raises(BuildError, match="no source files"):
        copy("COPY *.nothing /x/", ctx, stage)


def test_chown_by_name_and_chmod(ctx: Path, stage: StageState) -> None:
    copy("COPY --chown=app:staff --chmod=750 d /o/", ctx, stage)
    st = os.lstat(root_of(stage) / "o" / "a")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 50, 0o750)
    copy("COPY --chown=1000 --chmod=u+x,go-r f.txt /p", ctx, stage)
    st = os.lstat(root_of(stage) / "p")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o700)
    with pytest.raises(BuildError, match="no such user"):
        copy("COPY --chown=nobody f.txt /q", ctx, stage)


@pytest.mark.parametrize(
    ("spec", "before", "is_dir", "after"),
    [
        ("755", 0o600, False, 0o755),
        ("a+rX", 0o600, False, 0o644),
        ("a+rX", 0o700, True, 0o755),
        ("u=rw,go=", 0o777, False, 0o600),
        ("g+s", 0o755, True, 0o2755),
    ],
)
def test_chmod_forms(spec: str, before: int, is_dir: bool, after: int) -> None:
    assert parse_chmod(spec)(before, is_dir) == after


def test_parents_and_exclude(ctx: Path, stage: StageState) -> None:
    copy("COPY --parents d/a f.txt /par/", ctx, stage)
    assert (root_of(stage) / "par" / "d" / "a").is_file()
    assert (root_of(stage) / "par" / "f.txt").is_file()
    copy("COPY --exclude=b d /ex/", ctx, stage)
    assert sorted(os.listdir(root_of(stage) / "ex")) == ["a"]


def test_heredoc_source(ctx: Path, stage: StageState) -> None:
    stage.config["Env"].append("WHO=world")
    copy('COPY <<EOF <<"RAW" /docs/\nhello $WHO\nEOF\nkeep $WHO\nRAW\n', ctx, stage)
    assert (root_of(stage) / "docs" / "EOF").read_text() == "hello world\n"
    assert (root_of(stage) / "docs" / "RAW").read_text() == "keep $WHO\n"


def test_add_extracts_local_archives(ctx: Path, stage: StageState) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        info = tarfile.TarInfo("pkg/bin/tool")
        info.size, info.mode, info.uid = 4, 0o755, 33
        tar.addfile(info, io.BytesIO(b"tool"))
    (ctx / "pkg.tar.xz").write_bytes(buffer.getvalue())
    result = copy("ADD pkg.tar.xz /opt/", ctx, stage)
    tool = root_of(stage) / "opt" / "pkg" / "bin" / "tool"
    assert tool.read_bytes() == b"tool"
    assert os.lstat(tool).st_uid == 33
    assert "opt/pkg/bin/tool" in result.changed
    copy("COPY pkg.tar.xz /raw/", ctx, stage)
    assert (root_of(stage) / "raw" / "pkg.tar.xz").is_file()


def test_sources_cannot_leave_the_context(ctx: Path, stage: StageState, tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("secret")
    os.symlink("../outside", ctx / "link")
    with pytest.raises(BuildError, match="missing path"):
        copy("COPY link /got", ctx, stage)
    assert not (root_of(stage) / "got").exists()
    with pytest.raises(ContextError, match="outside the build context"):
        copy("COPY ../outside /x", ctx, stage)


def test_copy_from_other_root_keeps_owners(ctx: Path, stage: StageState, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "srv").mkdir(parents=True)
    (other / "srv" / "data").write_text("d")
    os.chown(other / "srv" / "data", 1000, 1000)
    os.symlink("/srv/data", other / "abs-link")
    copy("COPY --from=build /srv /copied", ctx, stage, other)
    # docker: without --chown, --from keeps the source stage's owners
    assert os.lstat(root_of(stage) / "copied" / "data").st_uid == 1000
    assert os.lstat(root_of(stage) / "copied").st_uid == 0
    copy("COPY --from=build /abs-link /via-link", ctx, stage, other)
    assert (root_of(stage) / "via-link").read_text() == "d"
