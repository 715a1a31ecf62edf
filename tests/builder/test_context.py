"""Build contexts: directory and tar forms, and docker's .dockerignore semantics."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.builder.context import PatternMatcher, open_context, read_ignore_file
from pytest_imagebuild.errors import ContextError, UsageError


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.md"], "README.md", True),
        (["*.md"], "docs/README.md", False),
        (["**/*.md"], "docs/deep/README.md", True),
        (["**/*.md"], "README.md", True),
        (["docs"], "docs/a/b.txt", True),
        (["docs/**"], "docs/a/b.txt", True),
        (["docs", "!docs/keep.txt"], "docs/keep.txt", False),
        (["docs", "!docs/keep.txt"], "docs/other.txt", True),
        (["*", "!src"], "src/main.py", False),
        (["*", "!src"], "tests/x.py", True),
        (["!a", "a"], "a", True),
        (["a", "!a"], "a", False),
        (["file?.txt"], "file1.txt", True),
        (["file?.txt"], "file10.txt", False),
        (["[a-c].txt"], "b.txt", True),
        (["[^a-c].txt"], "b.txt", False),
        (["[^a-c].txt"], "d.txt", True),
        (["a/*/c"], "a/b/c", True),
        (["a/*/c"], "a/b/x/c", False),
        (["a/**/c"], "a/b/x/c", True),
        (["**"], "anything/at/all", True),
        (["dir/"], "dir/file", True),
        (["/abs/path"], "abs/path", True),
        (["./rel"], "rel", True),
        (["a\\*b"], "a*b", True),
        (["a\\*b"], "axb", False),
        (["**/node_modules"], "x/y/node_modules/z.js", True),
        (["*.pyc", "!keep.pyc"], "keep.pyc", False),
    ],
)
def test_pattern_matcher_follows_docker(patterns: list[str], path: str, excluded: bool) -> None:
    matcher = PatternMatcher(read_ignore_file("\n".join(patterns)))
    assert matcher.excluded(path) is excluded


def test_excluded_directory_without_exception_hides_everything_below() -> None:
    # "!*.txt" cannot re-include inside a skipped dir: docker never walks into "secret"
    matcher = PatternMatcher(["secret", "!*.txt"])
    assert matcher.excluded("secret/a.txt")
    assert not matcher.excluded("a.txt")


def test_exception_pointing_inside_keeps_walking_directory() -> None:
    matcher = PatternMatcher(["secret", "!secret/public"])
    assert not matcher.excluded("secret/public")
    assert not matcher.excluded("secret/public/x")
    assert matcher.excluded("secret/private")


def test_read_ignore_file_comments_blank_lines_and_cleaning() -> None:
    text = "\ufeff# comment\n\n  *.log  \n!/keep.log\n /abs//x/../y\n #not-a-comment\n"
    assert read_ignore_file(text) == ["*.log", "!keep.log", "abs/y", "#not-a-comment"]


def test_lone_exclamation_is_an_error() -> None:
    with pytest.raises(ContextError, match="illegal exclusion"):
        PatternMatcher(["!"])


def _tar_gz(members: dict[str, bytes], *, symlink: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink[0])
            info.type = tarfile.SYMTYPE
            info.linkname = symlink[1]
            tar.addfile(info)
    return buffer.getvalue()


def test_directory_context_and_dockerfile_ignore_precedence(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".dockerignore").write_text("a.txt\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("b.txt\n")
    ctx = open_context(str(tmp_path), None, tmp_path / "work")
    assert ctx.excluded("a.txt")
    scoped = ctx.with_dockerfile(tmp_path / "Dockerfile")
    assert not scoped.excluded("a.txt")
    assert scoped.excluded("b.txt")
    assert open_context("dir://" + str(tmp_path), None, tmp_path / "w2").root == tmp_path


def test_tar_context_from_file_and_stdin(tmp_path: Path) -> None:
    archive = tmp_path / "ctx.tar.gz"
    archive.write_bytes(_tar_gz({"Dockerfile": b"FROM scratch\n", "src/x": b"x"}))
    ctx = open_context(f"tar://{archive}", None, tmp_path / "work")
    assert (ctx.root / "src" / "x").read_bytes() == b"x"
    ctx2 = open_context(
        "tar://stdin", None, tmp_path / "work2", stdin=io.BytesIO(archive.read_bytes())
    )
    assert (ctx2.root / "Dockerfile").is_file()


@pytest.mark.parametrize(
    "members",
    [
        {"../escape": b"x"},
        {"/etc/abs": b"x"},
    ],
)
def test_tar_context_rejects_paths_leaving_the_context(
    tmp_path: Path, members: dict[str, bytes]
) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_gz(members))
    with pytest.raises(ContextError, match="unsafe"):
        open_context(f"tar://{archive}", None, tmp_path / "work")
    assert not (tmp_path / "escape").exists()


def test_tar_context_rejects_symlink_out(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_gz({"ok": b"1"}, symlink=("link", "../../../etc")))
    with pytest.raises(ContextError, match="unsafe"):
        open_context(f"tar://{archive}", None, tmp_path / "work")


def test_plain_tar_is_not_a_kaniko_context(tmp_path: Path) -> None:
    archive = tmp_path / "plain.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))
    with pytest.raises(ContextError, match="gzip"):
        open_context(f"tar://{archive}", None, tmp_path / "work")


def test_unknown_scheme_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="s3://"):
        open_context("s3://bucket/ctx.tar.gz", None, tmp_path)
    with pytest.raises(ContextError, match="not a directory"):
        open_context(str(tmp_path / "missing"), None, tmp_path)


def test_context_path_refuses_escape(tmp_path: Path) -> None:
    ctx = open_context(str(tmp_path), None, tmp_path / "w")
    assert ctx.path("a/../b") == tmp_path / "b"
    assert ctx.path("../x") == tmp_path / "x"
