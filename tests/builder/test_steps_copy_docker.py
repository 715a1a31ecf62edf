"""COPY and ADD details where docker's legacy builder has its own rules."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.dockerfile import parse
from pytest_imagebuild.builder.steps.base import Where
from pytest_imagebuild.builder.steps.remote import download_name, url_hash
from pytest_imagebuild.builder.steps.run import RunServices, _mounts
from pytest_imagebuild.builder.steps.state import StageState
from tests.support.httpfiles import serve_directory

from .test_steps_copy import copy, ctx, root_of, stage

__all__ = ["ctx", "stage"]


def owner_mode(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_chown_gives_created_parents_of_a_file(ctx: Path, stage: StageState) -> None:
    copy("COPY --chown=app f.txt /made/deep/f.txt", ctx, stage)
    root = root_of(stage)
    assert owner_mode(root / "made") == (1000, 1000, 0o755)
    assert owner_mode(root / "made" / "deep") == (1000, 1000, 0o755)
    # a directory source: parents stay root's, the new top directory is the user's
    copy("COPY --chown=app d /for/tree/", ctx, stage)
    assert owner_mode(root / "for") == (0, 0, 0o755)
    assert owner_mode(root / "for" / "tree") == (1000, 1000, 0o755)


def test_new_destination_directory_is_0755(ctx: Path, stage: StageState) -> None:
    (ctx / "d").chmod(0o700)
    root = root_of(stage)
    copy("COPY d /new/", ctx, stage)
    assert owner_mode(root / "new") == (0, 0, 0o755)
    (root / "kept").mkdir(mode=0o750)
    os.chown(root / "kept", 50, 50)
    copy("COPY --chown=app d /kept/", ctx, stage)
    assert owner_mode(root / "kept") == (50, 50, 0o750)
    assert owner_mode(root / "kept" / "a")[:2] == (1000, 1000)


def test_copy_from_keeps_owners_and_setuid(ctx: Path, stage: StageState, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "out" / "d").mkdir(parents=True, mode=0o700)
    (other / "out" / "suid").write_text("s")
    os.chown(other / "out" / "suid", 33, 44)
    (other / "out" / "suid").chmod(0o4755)
    os.chown(other / "out" / "d", 1000, 1000)
    copy("COPY --from=b /out /kept/", ctx, stage, other)
    root = root_of(stage)
    assert owner_mode(root / "kept" / "suid") == (33, 44, 0o4755)
    assert owner_mode(root / "kept" / "d") == (1000, 1000, 0o700)
    copy("COPY --from=b --chown=app:staff /out/d /chowned/", ctx, stage, other)
    assert owner_mode(root / "chowned") == (1000, 50, 0o755)


def test_add_chown_leaves_archive_owners(ctx: Path, stage: StageState) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("file.txt")
        info.size, info.uid, info.gid = 1, 33, 33
        tar.addfile(info, io.BytesIO(b"x"))
    (ctx / "pkg.tar").write_bytes(buffer.getvalue())
    copy("ADD --chown=app pkg.tar /opt/", ctx, stage)
    root = root_of(stage)
    assert owner_mode(root / "opt" / "file.txt")[:2] == (33, 33)
    copy("COPY --chown=app pkg.tar /copied/", ctx, stage)
    assert owner_mode(root / "copied")[:2] == (1000, 1000)


def test_copy_writes_through_destination_symlinks(ctx: Path, stage: StageState) -> None:
    root = root_of(stage)
    (root / "target").write_text("old")
    (root / "tdir").mkdir()
    os.symlink("/target", root / "slink")
    os.symlink("/tdir", root / "dlink")
    assert copy("COPY f.txt /slink", ctx, stage).changed == ["target"]
    assert os.readlink(root / "slink") == "/target"
    assert (root / "target").read_text() == "hi\n"
    assert copy("COPY f.txt /dlink", ctx, stage).changed == ["tdir", "tdir/f.txt"]
    assert os.readlink(root / "dlink") == "/tdir"


def test_history_keeps_a_relative_destination(ctx: Path, stage: StageState) -> None:
    stage.config["WorkingDir"] = "/app"
    (root_of(stage) / "app").mkdir()
    assert copy("COPY f.txt .", ctx, stage).created_by.endswith(" in . ")
    assert copy("COPY f.txt ./r.txt", ctx, stage).created_by.endswith(" in ./r.txt ")
    assert (root_of(stage) / "app" / "r.txt").is_file()


def test_hardlinks_kept_inside_one_directory(ctx: Path, stage: StageState) -> None:
    os.link(ctx / "d" / "a", ctx / "d" / "hard")
    copy("COPY d /d/", ctx, stage)
    root = root_of(stage)
    assert os.lstat(root / "d" / "a").st_ino == os.lstat(root / "d" / "hard").st_ino
    copy("COPY d/a d/hard /pair/", ctx, stage)
    assert os.lstat(root / "pair" / "a").st_ino != os.lstat(root / "pair" / "hard").st_ino


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "file.txt").write_bytes(b"downloaded over http\n")

    with serve_directory(served) as url:
        yield url


def test_add_url_from_a_build_arg(ctx: Path, stage: StageState, http_dir: str) -> None:
    stage.config["Env"].append(f"HTTP={http_dir}")
    result = copy("ADD ${HTTP}/file.txt /dl/", ctx, stage)
    # docker 20.10 wrote this hash, without a "file:" prefix, for the same download
    assert result.created_by == (
        "/bin/sh -c #(nop) ADD 5bb493ce5ddd185f4f532485d40bee78069238eb5dcd0ffae9d8567b859d8b9c"
        " in /dl/ "
    )
    assert owner_mode(root_of(stage) / "dl" / "file.txt") == (0, 0, 0o600)


def test_download_names(tmp_path: Path) -> None:
    assert download_name("http://h/a/b.txt?x=1", None) == "b.txt"
    assert download_name("http://h/dir/", 'attachment; filename="c.bin"') == "c.bin"
    assert download_name("http://h", None) == "__unnamed__"
    (tmp_path / "f").write_bytes(b"")
    assert len(url_hash("f", tmp_path / "f")) == 64


def test_secret_env_is_given_to_the_command_only(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("value")
    line = "RUN --mount=type=secret,id=tok,env=TOKEN --mount=type=secret,id=tok,env=B,target=/t x"
    where = Where(parse("FROM scratch\n" + line).instructions[1])
    state = StageState.from_image_config(None)
    services = RunServices(tmp_path, tmp_path / "cache", tmp_path, secrets={"tok": secret})
    (tmp_path / "scratch").mkdir()
    found = _mounts(where, state, services, tmp_path / "scratch")
    assert found.env == {"TOKEN": "value", "B": "value"}
    assert [m.target for m in found.mounts] == ["/t"]
