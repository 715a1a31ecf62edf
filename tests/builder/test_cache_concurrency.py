"""Concurrency: ``imagebuild`` processes sharing one ``--cache-dir`` build what sequential
runs build, and a build never waits on another's unrelated key."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.builder.build_support import make_base, write_tree
from tests.builder.crash_support import (
    content_digest,
    descendants_named,
    finish,
    imagebuild,
    leftovers,
    wait_gone,
)

SHARED = "FROM oci:{base}\nRUN echo shared > /shared && sleep 0.5\nRUN echo {name} > /name\n"


def _build(context: Path, cache: Path, out: Path, builds: Path) -> list[str | Path]:
    return [
        "-c", context, "--no-push", "--tar-path", out, "--cache", "--cache-dir", cache,
        "--build-root", builds,
    ]  # fmt: skip


def test_concurrent_builds_on_one_cache_dir_match_sequential_ones(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    """Fault: three ``imagebuild`` processes start at once on one cache directory, two with
    the same Dockerfile and one with a Dockerfile sharing its first step, so they race to
    store the same keys. Must hold: all succeed, each image has the content a sequential
    run in a fresh cache directory gives, the shared step is stored once, and no temp
    state is left."""
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    contexts = {
        name: write_tree(tmp_path / name, {"Dockerfile": SHARED.format(base=layout, name=name[0])})
        for name in ("a", "b")
    }
    builds = tmp_path / "builds"
    expected = {}
    for name, context in contexts.items():
        out = tmp_path / f"seq-{name}.tar"
        finish(imagebuild(*_build(context, tmp_path / "seq-cache", out, builds)))
        expected[name] = content_digest(out)
    cache = tmp_path / "cache"
    outs = [("a", tmp_path / "a1.tar"), ("a", tmp_path / "a2.tar"), ("b", tmp_path / "b.tar")]
    runs = [
        (name, out, imagebuild(*_build(contexts[name], cache, out, builds))) for name, out in outs
    ]
    for name, out, proc in runs:
        finish(proc)
        assert content_digest(out) == expected[name], out.name
    assert (
        len(list((cache / "entries").rglob("*.json"))) == 3
    )  # the shared RUN once, then "a" and "b"
    assert leftovers(cache, builds) == []


def test_a_build_does_not_wait_for_another_builds_unrelated_key(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    """Fault: one ``imagebuild`` sits in a long RUN (holding whatever it holds on the cache
    directory) while a second build with other keys starts on the same cache directory.
    Must hold: the second build finishes while the first one's RUN is still running (no
    lock spans unrelated keys), and the first, then SIGKILLed, leaves nothing behind once
    a later build has run."""
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    slow = write_tree(tmp_path / "slow", {"Dockerfile": f"FROM oci:{layout}\nRUN sleep 120\n"})
    quick = write_tree(tmp_path / "quick", {"Dockerfile": f"FROM oci:{layout}\nRUN echo q > /q\n"})
    cache, builds = tmp_path / "cache", tmp_path / "builds"
    first = imagebuild(*_build(slow, cache, tmp_path / "slow.tar", builds))
    try:
        deadline = time.monotonic() + 60
        while not descendants_named(first.pid, "sleep"):
            assert first.poll() is None, "the slow build ended before its RUN"
            assert time.monotonic() < deadline, "the RUN never started"
            time.sleep(0.02)
        finish(imagebuild(*_build(quick, cache, tmp_path / "quick.tar", builds)))
        assert descendants_named(first.pid, "sleep"), "the slow RUN ended before the quick build"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    assert wait_gone(first.pid) == []
    finish(imagebuild(*_build(quick, cache, tmp_path / "quick.tar", builds)))
    assert leftovers(cache, builds) == []
    assert list(builds.iterdir()) == []
