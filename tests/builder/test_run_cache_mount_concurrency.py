"""Cache mounts through the ``imagebuild`` command: concurrent builds and the chroot mode."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree

MODES = ["namespaces", "chroot"]


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("base"))
    return f"oci:{layout}"


def start(
    work: Path, cache: Path, dockerfile: str, mode: str, *build_args: str
) -> subprocess.Popen[str]:
    """``imagebuild`` on a fresh context in ``work``, writing ``work/out.tar``."""
    context = write_tree(work / "ctx", {"Dockerfile": dockerfile})
    args = [f"--build-arg={arg}" for arg in build_args]
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "pytest_imagebuild", "--context", str(context), "--no-push"),
            *("--tar-path", str(work / "out.tar"), "--cache-dir", str(cache)),
            *("--build-root", str(work / "build"), *args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "IMAGEBUILD_SANDBOX": mode},
    )


def finish(proc: subprocess.Popen[str]) -> str:
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    return output


def finish_all(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Wait for every build; on a failure the others are still reaped, never left running."""
    outputs: list[str] = []
    try:
        for proc in procs:
            outputs.append(finish(proc))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    return outputs


def mount_dir(cache: Path, ident: str) -> Path:
    return cache / "mounts" / hashlib.sha256(ident.encode()).hexdigest()


@pytest.mark.parametrize("mode", MODES)
def test_persists_across_builds_in_each_sandbox_mode(base: str, tmp_path: Path, mode: str) -> None:
    cache = tmp_path / "cache"
    mount = "RUN --mount=type=cache,id=apt,target=/var/cache/apt"
    first = f"FROM {base}\n{mount} echo fetched > /var/cache/apt/pkg && ls /var/cache/apt > /l\n"
    output = finish(start(tmp_path / "one", cache, first, mode))
    sandbox_line = next(line for line in output.splitlines() if "sandbox:" in line)
    assert ("chroot" in sandbox_line) == (mode == "chroot"), sandbox_line
    second = f"FROM {base}\n{mount} cp /var/cache/apt/pkg /seen\n"
    finish(start(tmp_path / "two", cache, second, mode))
    with Image.open(tmp_path / "one" / "out.tar") as image:
        assert image.file("/l").read_text() == "pkg\n"
        assert image.glob("/var/cache/apt/**", all_layers=True) == []
    with Image.open(tmp_path / "two" / "out.tar") as image:
        assert image.file("/seen").read_text() == "fetched\n"
        assert image.glob("/var/cache/apt/**", all_layers=True) == []
    assert (mount_dir(cache, "apt") / "pkg").read_text() == "fetched\n"


@pytest.mark.parametrize("mode", MODES)
def test_locked_builds_take_turns(base: str, tmp_path: Path, mode: str) -> None:
    cache = tmp_path / "cache"
    dockerfile = (
        f"FROM {base}\nARG NAME\n"
        "RUN --mount=type=cache,id=one-at-a-time,target=/c,sharing=locked "
        "date +%s > /c/start-$NAME && sleep 2 && date +%s > /c/end-$NAME\n"
    )
    procs = [start(tmp_path / n, cache, dockerfile, mode, f"NAME={n}") for n in ("a", "b")]
    finish_all(procs)
    found = mount_dir(cache, "one-at-a-time")
    spans = sorted(
        (int((found / f"start-{n}").read_text()), int((found / f"end-{n}").read_text()))
        for n in ("a", "b")
    )
    (first_start, first_end), (second_start, _) = spans
    assert first_end - first_start >= 2
    assert second_start >= first_end, spans


def test_shared_builds_use_the_directory_at_once(base: str, tmp_path: Path) -> None:
    """Each RUN waits until the other has written its mark: only concurrent use passes."""
    cache = tmp_path / "cache"
    dockerfile = (
        f"FROM {base}\nARG NAME\nARG OTHER\n"
        "RUN --mount=type=cache,id=together,target=/c,sharing=shared "
        "touch /c/$NAME && i=0 && while [ ! -e /c/$OTHER ]; do "
        "i=$((i+1)); [ $i -lt 600 ] || exit 3; sleep 0.1; done\n"
    )
    procs = [
        start(tmp_path / n, cache, dockerfile, "namespaces", f"NAME={n}", f"OTHER={o}")
        for n, o in (("a", "b"), ("b", "a"))
    ]
    finish_all(procs)
    assert sorted(os.listdir(mount_dir(cache, "together"))) == ["a", "b"]
