"""Warm builds stay correct: a killed build leaves nothing a later build trusts, and two
builds sharing a cache at once give the images two builds one after the other give."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import file_table, make_base, write_tree

# The proxy build args reach RUN but are in no cache key (docker keeps them out), so the
# killed build and the next one look up the same key while only the first one sleeps.
NAPPING = """\
FROM {base}
RUN echo one > /one
RUN sleep ${{HTTP_PROXY:-0}}; echo two > /two
"""

RANDOM = """\
FROM {base}
RUN od -An -tx1 -N16 /dev/urandom > /first && sleep 1
WORKDIR /srv
RUN od -An -tx1 -N16 /dev/urandom > /second
"""


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("consistency-base"))
    return f"oci:{layout}"


def command(context: Path, cache: Path, out: Path, root: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest_imagebuild",
        "--context",
        str(context),
        "--no-push",
        "--cache",
        "--cache-dir",
        str(cache),
        "--build-root",
        str(root),
        "--tar-path",
        str(out),
        *extra,
    ]


def test_a_killed_build_leaves_no_entry_root_or_directory(base: str, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": NAPPING.format(base=base)})
    cache, root = tmp_path / "cache", tmp_path / "builds"
    killed = subprocess.Popen(
        command(context, cache, tmp_path / "killed.tar", root, "--build-arg", "HTTP_PROXY=60"),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen = ""
    deadline = time.monotonic() + 120
    try:
        while "RUN sleep" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([killed.stderr], [], [], 1.0)
            if ready and killed.stderr is not None:
                line = killed.stderr.readline()
                if not line:
                    break
                seen += line
        assert "RUN sleep" in seen, seen
        time.sleep(1.0)  # inside the sleeping RUN
        assert killed.poll() is None
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        if killed.stderr is not None:
            killed.stderr.close()
    assert not (tmp_path / "killed.tar").exists()
    assert list(root.glob("imagebuild-*")), "the killed build's directory is there to reap"
    result = build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=tmp_path / "next.tar",
            cache=True,
            cache_dir=cache,
            build_root=root,
        ),
        verbose=False,
    )
    assert result.cache_stats is not None
    # the first RUN was stored before the kill; the killed one was not, so it runs again
    assert (result.cache_stats.local_hits, result.cache_stats.misses) == (1, 1)
    assert [p.name for p in root.iterdir()] == []  # the dead build's directory was reaped
    with Image.open(tmp_path / "next.tar") as image:
        assert image.file("/one").read_text() == "one\n"
        assert image.file("/two").read_text() == "two\n"


def test_concurrent_builds_on_one_cache_make_the_sequential_images(
    base: str, tmp_path: Path
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": RANDOM.format(base=base)})
    cache = tmp_path / "cache"
    outs = [tmp_path / f"{name}.tar" for name in ("a", "b", "after")]
    procs = [
        subprocess.Popen(
            command(context, cache, out, tmp_path / f"root-{out.stem}"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs[:2]
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    after = subprocess.run(
        command(context, cache, outs[2], tmp_path / "root-after"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert after.returncode == 0, after.stderr
    images = [Image.open(out) for out in outs]
    try:
        first = images[0]
        for other in images[1:]:
            # one of the two ran each step, the other waited for its key and took its layer
            assert [layer.diff_id for layer in other.layers] == [
                layer.diff_id for layer in first.layers
            ]
            assert other.file("/first").read_bytes() == first.file("/first").read_bytes()
            assert other.file("/second").read_bytes() == first.file("/second").read_bytes()
            assert file_table(other) == file_table(first)
        # the same history times too: byte for byte the same tarballs
        assert outs[0].read_bytes() == outs[1].read_bytes() == outs[2].read_bytes()
    finally:
        for image in images:
            image.close()
