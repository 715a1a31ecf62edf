"""The store of unpacked bases (``<cache dir>/roots``): reused across builds, bounded, never
trusting a half-made entry, never evicting what a build holds, refusing another uid's."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.fs.rootstore import RootStore, parse_size
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.sandbox import probe
from pytest_imagebuild.image import Image
from tests.builder.build_support import file_table, make_base, write_tree

STEPS = """\
FROM {base}
RUN echo one > /one && rm /etc/group
RUN {last}
"""


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    if probe().kind != "namespaces":
        pytest.fail(f"the root store needs overlay mounts, not {probe().describe()}")
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("store-base"))
    return f"oci:{layout}"


def cached(
    context: Path, out: Path, cache: Path, capfd: pytest.CaptureFixture[str], **kw: object
) -> str:
    """Build with ``--cache`` and return the build's log."""
    capfd.readouterr()
    options = BuildOptions(
        context=str(context),
        no_push=True,
        tar_path=out,
        cache=True,
        cache_dir=cache,
        **kw,  # type: ignore[arg-type]
    )
    build(options, verbose=True)
    return capfd.readouterr().err


def entries(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "roots").iterdir() if len(p.name) == 64)


def test_a_changed_step_mounts_the_kept_base(
    base: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": STEPS.format(base=base, last="true")})
    cache = tmp_path / "cache"
    log = cached(context, tmp_path / "1.tar", cache, capfd)
    assert "root store: unpacking 1 layers" in log
    (kept,) = entries(cache)
    assert (cache / "roots" / kept / "etc" / "group").is_file()  # the base, never written to
    write_tree(context, {"Dockerfile": STEPS.format(base=base, last="ls /etc > /etc-list")})
    log = cached(context, tmp_path / "2.tar", cache, capfd)
    assert f"root store: base {kept[:12]} reused" in log
    assert "stage root: unpacking 1 layer\n" in log  # only the cached RUN's layer
    assert (cache / "roots" / kept / "etc" / "group").is_file()
    cold = tmp_path / "cold.tar"
    cached(context, cold, tmp_path / "cold-cache", capfd, root_store_size=0)
    assert not (tmp_path / "cold-cache" / "roots").exists()
    with Image.open(tmp_path / "2.tar") as warm, Image.open(cold) as fresh:
        assert "group" not in warm.file("/etc-list").read_text().split()
        assert file_table(warm) == file_table(fresh)


def test_the_size_limit_evicts_the_least_recently_used(
    base: str, busybox_rootfs: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    other_ctx = write_tree(tmp_path / "other", {"Dockerfile": f"FROM {base}\nRUN echo x > /x\n"})
    other = tmp_path / "other-layout"
    build(BuildOptions(context=str(other_ctx), no_push=True, oci_layout_path=other), verbose=False)
    cache = tmp_path / "cache"
    first = write_tree(tmp_path / "a", {"Dockerfile": f"FROM {base}\nRUN echo a > /a\n"})
    cached(first, tmp_path / "a.tar", cache, capfd)
    (one,) = entries(cache)
    size = int((cache / "roots" / f"{one}.size").read_text())
    second = write_tree(tmp_path / "b", {"Dockerfile": f"FROM oci:{other}\nRUN echo b > /b\n"})
    log = cached(second, tmp_path / "b.tar", cache, capfd, root_store_size=size * 3 // 2)
    assert "root store: unpacking 2 layers" in log
    (two,) = entries(cache)  # the older one went: both would pass the limit
    assert two != one
    assert not (cache / "roots" / f"{one}.size").exists()
    with Image.open(tmp_path / "b.tar") as image:
        assert image.file("/x").read_text() == "x\n"


def test_eviction_spares_held_entries_and_clears_dead_temp_dirs(
    base: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM {base}\nRUN echo a > /a\n"})
    cache = tmp_path / "cache"
    cached(context, tmp_path / "a.tar", cache, capfd)
    (name,) = entries(cache)
    roots = cache / "roots"
    # a half-made entry of a build that died: the name never matches, eviction clears it
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    junk = roots / f".{name}.tmp-{dead}-0000"
    (junk / "etc").mkdir(parents=True)
    holder = os.open(roots / f"{name}.lock", os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_SH)  # as a running build holds it
        store = RootStore.open(roots, 0, lambda _: None)
        assert store is not None
        assert store.evict(0).entries == 0
        assert entries(cache) == [name]
        assert not junk.exists()
    finally:
        os.close(holder)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_imagebuild", "prune", "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "removed 1 unpacked bases" in proc.stdout
    assert entries(cache) == []


def test_a_store_of_another_uid_is_not_used(
    base: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM {base}\nRUN echo a > /a\n"})
    cache = tmp_path / "cache"
    (cache / "roots").mkdir(parents=True)
    os.chown(cache / "roots", 4242, 4242)
    log = cached(context, tmp_path / "a.tar", cache, capfd)
    assert "not used: it belongs to uid 4242" in log
    assert entries(cache) == []
    with Image.open(tmp_path / "a.tar") as image:
        assert image.file("/a").read_text() == "a\n"


def test_sizes() -> None:
    assert parse_size("10G") == 10 << 30
    assert parse_size("512mb") == 512 << 20
    assert parse_size("0") == 0
    with pytest.raises(ValueError, match="invalid size"):
        parse_size("ten")


def test_a_store_on_another_filesystem_than_the_build_is_not_used(
    base: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.fail("needs /dev/shm on another filesystem than the temp dir (a tmpfs)")
    context = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM {base}\nRUN echo a > /a\n"})
    cache = tmp_path / "cache"
    where = shm / f"imagebuild-test-{os.getpid()}"
    try:
        log = cached(context, tmp_path / "a.tar", cache, capfd, build_root=where)
    finally:
        subprocess.run(["rm", "-rf", str(where)], check=True)
    assert "not used: another filesystem than" in log
    assert entries(cache) == []
    with Image.open(tmp_path / "a.tar") as image:
        assert image.file("/a").read_text() == "a\n"
