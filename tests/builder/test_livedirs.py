"""Live directories: reaped only once their owner is dead, whatever their age; files of
subordinate ids go too; what cannot be removed is reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytest_imagebuild.builder.livedirs import live_dir, reap_dead
from tests.builder.rootless import FULL_USER, ensure_user, run_as, user_dir

HOLD = """
import sys, time
from pathlib import Path
from pytest_imagebuild.builder.livedirs import live_dir
with live_dir(Path(sys.argv[1]), "imagebuild-") as work:
    (work / "data").write_text("mine")
    print(work, flush=True)
    time.sleep(600)
"""


def _holder(base: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(base)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_prune_leaves_a_live_build_and_reaps_it_once_killed(tmp_path: Path) -> None:
    """Fault: a reaper runs while another process holds a build directory, which is made to
    look a day old; then that process is SIGKILLed. Must hold: the live directory stays
    whatever its age; once its owner is dead the next reap removes it and its lock file."""
    proc, work = _holder(tmp_path)
    try:
        day_ago = time.time() - 86400
        os.utime(work, (day_ago, day_ago))
        assert reap_dead(tmp_path, "imagebuild-") == []
        assert (work / "data").read_text() == "mine"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == [work.name, f"{work.name}.live"]
    assert reap_dead(tmp_path, "imagebuild-") == []
    assert list(tmp_path.iterdir()) == []


def test_live_dir_is_removed_on_exit_and_kept_on_request(tmp_path: Path) -> None:
    """Must hold: a normal end leaves nothing; ``keep`` leaves the directory, without a lock
    file, so no reaper ever removes a kept build directory."""
    with live_dir(tmp_path, "imagebuild-") as work:
        (work / "sub").mkdir()
        (work / "sub" / "f").write_text("x")
        (work / "sub").chmod(0o500)  # a read-only directory, as builds leave them
    assert list(tmp_path.iterdir()) == []
    with live_dir(tmp_path, "imagebuild-", keep=True) as kept:
        (kept / "f").write_text("x")
    assert list(tmp_path.iterdir()) == [kept]
    assert reap_dead(tmp_path, "imagebuild-") == []
    assert (kept / "f").read_text() == "x"


def test_reap_removes_files_of_subordinate_ids_as_an_unprivileged_user() -> None:
    """Fault: a rootless build died (its process exits without cleaning up) leaving files
    owned by a mapped subordinate uid, in a read-only directory. Must hold: a reap run by
    the same unprivileged user removes them, through the user namespace, with no problem
    reported."""
    user = ensure_user(FULL_USER, subids=True)
    where = user_dir(user)
    try:
        result = run_as(
            user,
            """
            import json, os
            from pathlib import Path
            from pytest_imagebuild.builder import userns
            from pytest_imagebuild.builder.livedirs import live_dir, reap_dead

            base = Path("builds")
            base.mkdir()

            def fill(path):
                os.makedirs(path + "/etc")
                with open(path + "/etc/owned", "w") as fh:
                    fh.write("x")
                os.chown(path + "/etc/owned", 1000, 1000)
                os.chown(path + "/etc", 1000, 1000)
                os.chmod(path + "/etc", 0o555)
                return os.lstat(path + "/etc/owned").st_uid

            pid = os.fork()
            if pid == 0:
                with live_dir(base, "imagebuild-") as work:
                    userns.run_in_userns(fill, str(work / "root"))
                    os._exit(0)  # dies holding the directory: no cleanup runs
            os.waitpid(pid, 0)
            work = next(p for p in base.iterdir() if p.is_dir())
            host_uid = os.lstat(work / "root" / "etc" / "owned").st_uid
            problems = reap_dead(base, "imagebuild-")
            print(json.dumps([host_uid, problems, sorted(os.listdir(base))]))
            """,
            where,
        )
    finally:
        subprocess.run(["rm", "-rf", str(where)], check=True)
    host_uid, problems, left = result
    assert host_uid >= 100000, result  # a subordinate id, not the user's own
    assert problems == []
    assert left == []
