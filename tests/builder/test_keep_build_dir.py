"""``--keep-build-dir``: the build directory stays, with its stage roots, store and log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pytest_imagebuild.cli import make_parser, options_from_args
from tests.builder.build_support import write_tree

DOCKERFILE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "touch", "/made"]\n'


def imagebuild(
    tmp_path: Path, *args: str, dockerfile: str = DOCKERFILE
) -> subprocess.CompletedProcess[str]:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    (context / "busybox").write_bytes(Path("/usr/bin/busybox").read_bytes())
    (context / "busybox").chmod(0o755)
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest_imagebuild", "--context", str(context), "--no-push"),
            *("--tar-path", str(tmp_path / "out.tar"), "--build-root", str(tmp_path / "root")),
            *("--cache-dir", str(tmp_path / "cache"), *args),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )


def kept_path(stderr: str) -> Path:
    found = re.search(r"^imagebuild: build directory kept: (.+)$", stderr, re.MULTILINE)
    assert found, stderr
    return Path(found.group(1))


def test_keep_build_dir_leaves_stage_roots_store_and_log(tmp_path: Path) -> None:
    done = imagebuild(tmp_path, "--keep-build-dir")
    assert done.returncode == 0, done.stderr
    kept = kept_path(done.stderr)
    assert kept.parent == tmp_path / "root"
    assert (kept / "stages" / "0" / "made").is_file()
    assert (kept / "stages" / "0" / "bin" / "busybox").is_file()
    assert any((kept / "store").rglob("*"))
    assert "0: RUN" in (kept / "build.log").read_text()


def test_kept_even_when_the_build_fails(tmp_path: Path) -> None:
    failing = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "false"]\n'
    done = imagebuild(tmp_path, "--keep-build-dir", dockerfile=failing)
    assert done.returncode == 1
    kept = kept_path(done.stderr)
    assert (kept / "stages" / "0" / "bin" / "busybox").is_file()
    assert "0: RUN" in (kept / "build.log").read_text()


def test_without_the_flag_nothing_stays(tmp_path: Path) -> None:
    done = imagebuild(tmp_path, "-v", "warn")
    assert done.returncode == 0, done.stderr
    assert "build directory kept" not in done.stderr
    assert list((tmp_path / "root").iterdir()) == []


def test_flag_parses_and_says_it_is_an_extension(tmp_path: Path) -> None:
    parser = make_parser()
    args = parser.parse_args(["--no-push", "--keep-build-dir"])
    assert options_from_args(args, {}).keep_build_dir is True
    args = parser.parse_args(["--no-push"])
    assert options_from_args(args, {}).keep_build_dir is False
    text = " ".join(parser.format_help().split())
    assert "--keep-build-dir" in text
    assert "not a kaniko flag" in text
