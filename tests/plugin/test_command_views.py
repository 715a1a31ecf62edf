"""The unpacked root is made once and never written; each run sees a fresh writable view."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.errors import SandboxError, UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.runner import SandboxRunner
from tests.structure.images import app_image, build_image


@pytest.fixture(scope="module")
def app_image_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_image(busybox_rootfs_tar, tmp_path_factory)


@pytest.fixture
def app(app_image_tar: Path) -> Iterator[Image]:
    with Image.open(app_image_tar) as opened:
        yield opened


def tree_state(root: Path) -> list[tuple[str, int, int, int]]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            info = os.lstat(os.path.join(dirpath, name))
            found.append(
                (os.path.join(dirpath, name), info.st_mode, info.st_size, info.st_mtime_ns)
            )
    return sorted(found)


def test_hundred_runs_cost_one_unpack(app: Image, tmp_path: Path) -> None:
    runner = SandboxRunner(tmp_path)
    app.runner = runner
    codes = [app.run(f"exit {i % 7}").exit_code for i in range(100)]
    assert codes == [i % 7 for i in range(100)]
    assert runner.unpacks == 1
    assert runner.runs == 100
    # Another runner (another pytest run or xdist worker) on the same cache reuses the root.
    again = SandboxRunner(tmp_path)
    app.runner = again
    assert app.run("true").exit_code == 0
    assert again.unpacks == 0
    assert sorted(
        p.name for p in (tmp_path / "roots").iterdir() if not p.name.endswith(".lock")
    ) == [again.root_of(app).name]
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.parametrize("view", ["auto", "copy"])
def test_writes_do_not_reach_the_next_run_or_the_root(
    app: Image, tmp_path: Path, view: str
) -> None:
    runner = SandboxRunner(tmp_path, view=view)  # type: ignore[arg-type]
    app.runner = runner
    root = runner.root_of(app)
    before = tree_state(root)
    script = "echo changed > /opt/app/app.conf; rm /opt/app/app.sh; mkdir /new; echo x > /new/f"
    assert app.run(script, user="root").exit_code == 0
    after = app.run("cat /opt/app/app.conf; ls /opt/app; ls -d /new", user="root")
    assert after.stdout_text == "app config: port=8080\napp.conf\napp.sh\n"
    assert b"/new: No such file or directory" in after.stderr
    assert tree_state(root) == before
    assert runner.views == ({"overlay"} if view == "auto" else {"copy"})


def test_chroot_mode_runs_on_a_copy(app: Image, tmp_path: Path) -> None:
    runner = SandboxRunner(tmp_path, mode=sandbox.forced("chroot"), view="copy")
    app.runner = runner
    result = app.run("id -u; echo err >&2; touch /x", user="root")
    assert (result.exit_code, result.stdout_text, result.stderr_text) == (0, "0\n", "err\n")
    assert app.run("ls /x").exit_code == 1


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


def test_timeout_kills_the_command_and_leaves_nothing(app: Image, tmp_path: Path) -> None:
    app.runner = SandboxRunner(tmp_path)
    started = time.monotonic()
    with pytest.raises(SandboxError, match=r"timed out after 1\.0s and was killed"):
        app.run("sleep 4242 & setsid sleep 4243 & sleep 4244", timeout=1.0)
    assert time.monotonic() - started < 10
    assert _processes_with("sleep 424") == []
    assert list((tmp_path / "runs").iterdir()) == []


def test_stdin_and_the_image_shell(app: Image, tmp_path: Path) -> None:
    app.runner = SandboxRunner(tmp_path)
    result = app.run("wc -c; grep -c ^Pid /proc/self/status", stdin=b"12345")
    assert result.stdout_text.split() == ["5", "1"]
    assert result.merged_output is False


def test_image_without_a_shell_merges_stderr_into_stdout(tmp_path: Path) -> None:
    work = tmp_path / "noshell"
    (tmp_path / "busybox").write_bytes(Path("/usr/bin/busybox").read_bytes())
    tar = _shell_less_image(work, tmp_path / "busybox")
    with Image.open(tar) as image:
        image.runner = SandboxRunner(tmp_path / "cache")
        result = image.run(["sh", "-c", "echo out; echo err >&2"], entrypoint="/busybox")
        assert (result.exit_code, result.stdout_text, result.stderr) == (0, "out\nerr\n", b"")
        assert result.merged_output is True
        with pytest.raises(UsageError, match="stdin= needs /bin/sh"):
            image.run(["cat"], entrypoint="/busybox", stdin="x")


def _shell_less_image(work: Path, busybox: Path) -> Path:
    rootfs = work / "rootfs-src"
    rootfs.mkdir(parents=True)
    shutil.copy2(busybox, rootfs / "busybox")
    os.chmod(rootfs / "busybox", 0o755)
    tarball = work / "rootfs.tar"
    shutil.make_archive(str(work / "rootfs"), "tar", rootfs)
    return build_image(tarball, work / "build", "FROM scratch\nADD rootfs.tar /\n", {})


def test_image_opened_directly_has_no_runner(app: Image) -> None:
    with pytest.raises(UsageError) as error:
        app.run(["true"])
    assert "image_factory" in str(error.value)


def test_parallel_runners_share_one_unpack(app_image_tar: Path, tmp_path: Path) -> None:
    # Two runners on one cache, as two xdist workers would be: the lock makes one unpack.
    runners = [SandboxRunner(tmp_path), SandboxRunner(tmp_path)]
    images = [Image.open(app_image_tar), Image.open(app_image_tar)]
    barrier = threading.Barrier(2)
    roots: list[Path] = []

    def make(runner: SandboxRunner, image: Image) -> None:
        barrier.wait()
        roots.append(runner.root_of(image))

    threads = [
        threading.Thread(target=make, args=pair) for pair in zip(runners, images, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for image in images:
        image.close()
    assert len(roots) == 2
    assert len(set(roots)) == 1
    assert sum(runner.unpacks for runner in runners) == 1
    assert [p.name for p in (tmp_path / "roots").iterdir() if ".tmp-" in p.name] == []
