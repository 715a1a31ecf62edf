"""sandbox.run as real unprivileged users, inside the build's user namespace."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builder.busybox_root import make_busybox_root
from tests.builder.rootless import (
    FULL_USER,
    SINGLE_USER,
    User,
    chown_tree,
    ensure_user,
    remove_as,
    run_as,
    user_dir,
)

pytestmark = pytest.mark.rootless

# Runs as the test user: probe, then a few RUNs in the user namespace; prints JSON.
SNIPPET = """
    import json, os, time
    from pytest_imagebuild.builder import sandbox, userns
    from pytest_imagebuild.errors import SandboxError

    ROOT = "build/root"
    IN = os.path.abspath("in")
    NET = "hostname; tail -n +3 /proc/net/dev | cut -d: -f1"

    def run(script, **kwargs):
        out = bytearray()
        try:
            code = sandbox.run(ROOT, ["/bin/sh", "-c", script], output=out.extend, **kwargs)
        except SandboxError as error:
            return ["error", type(error).__name__, str(error)]
        return [code, out.decode()]

    def snapshot():
        return sorted(
            (os.path.join(d, n), os.lstat(os.path.join(d, n)).st_mtime_ns)
            for d, dirs, files in os.walk(ROOT) for n in dirs + files
        )

    def inside():
        before = snapshot()
        results = {
            "ids": run("id -u; id -g"),
            "chown": run("touch /tmp/f && chown 1000:1000 /tmp/f && stat -c %u:%g /tmp/f"),
            "exit": run("exit 42"),
            "caps": run("grep ^CapEff /proc/self/status"),
            "net": run(NET, hostname="b", network="none"),
            "proc": run("echo $$; grep -c ^Pid: /proc/self/status"),
            "resolv": run("cat /etc/resolv.conf"),
            "as_user": run("id -u; id -g; echo > /tmp/by-user", user="1000:1000"),
            "background": run("sleep 913.5 & (setsid sleep 913.5 &); echo bg"),
            "timeout": run("sleep 914.5", timeout=0.5),
            "mount": run("cat /cache/in", mounts=[sandbox.Mount.bind(IN, "/cache/in")]),
        }
        results["clean"] = [p for p in snapshot() if p not in before]
        return results

    with open("in", "w") as handle:
        handle.write("hello")
    mode = sandbox.probe()
    results = userns.run_in_userns(inside)
    results["describe"] = mode.describe()
    info = os.stat(ROOT + "/tmp/f")
    results["host_owner"] = [info.st_uid, info.st_gid]
    print(json.dumps(results))
"""


def leftovers(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in Path(f"/proc/{entry}/cmdline").read_text():
                found.append(entry)
        except OSError:
            continue
    return found


def _results_as(user: User) -> Iterator[tuple[User, dict[str, Any]]]:
    """SNIPPET's results as ``user`` on a busybox root of its own, removed afterwards."""
    path = user_dir(user)
    make_busybox_root(path / "build" / "root")
    chown_tree(path / "build", user)
    try:
        yield user, run_as(user, SNIPPET, path)
    finally:
        remove_as(user, path)


@pytest.fixture(scope="module")
def full_results() -> Iterator[tuple[User, dict[str, Any]]]:
    yield from _results_as(ensure_user(FULL_USER, subids=True))


@pytest.fixture(scope="module")
def single_results() -> Iterator[tuple[User, dict[str, Any]]]:
    yield from _results_as(ensure_user(SINGLE_USER, subids=False))


def test_full_map_header_line(full_results: tuple[User, dict[str, Any]]) -> None:
    _, results = full_results
    assert results["describe"] == (
        "rootless user namespace, full uid map (65537 ids), mount+pid namespaces; "
        "no_new_privs, seccomp, own hostname, masked /proc, read-only /sys"
    )


def test_full_map_is_root_inside_and_subordinate_outside(
    full_results: tuple[User, dict[str, Any]],
) -> None:
    user, results = full_results
    assert results["ids"] == [0, "0\n0\n"]
    assert results["chown"] == [0, "1000:1000\n"]
    assert user.subid_start is not None
    assert results["host_owner"] == [user.subid_start + 999, user.subid_start + 999]
    assert results["as_user"] == [0, "1000\n1000\n"]


def test_full_map_exit_proc_resolv_and_mounts(full_results: tuple[User, dict[str, Any]]) -> None:
    _, results = full_results
    assert results["exit"] == [42, ""]
    assert results["proc"] == [0, "1\n1\n"]
    assert results["caps"] == [0, "CapEff:\t00000000a80425fb\n"]
    code, out = results["net"]
    assert (code, out.split()) == (0, ["b", "lo"])
    assert results["resolv"] == [0, Path("/etc/resolv.conf").read_text()]
    assert results["mount"] == [0, "hello"]


def test_full_map_leaves_only_what_commands_wrote(
    full_results: tuple[User, dict[str, Any]],
) -> None:
    _, results = full_results
    changed = [path for path, _ in results["clean"]]
    assert changed == ["build/root/tmp", "build/root/tmp/by-user", "build/root/tmp/f"]


def test_full_map_kills_background_and_times_out(
    full_results: tuple[User, dict[str, Any]],
) -> None:
    _, results = full_results
    assert results["background"] == [0, "bg\n"]
    kind, name, message = results["timeout"]
    assert (kind, name) == ("error", "SandboxTimeout")
    assert "timed out after 0.5s" in message
    assert leftovers("913.5") == []
    assert leftovers("914.5") == []


def test_single_map_runs_as_root_only(single_results: tuple[User, dict[str, Any]]) -> None:
    user, results = single_results
    assert results["describe"] == (
        f"single-id user namespace (0 -> {user.uid}, no other ids), mount+pid namespaces; "
        "no_new_privs, seccomp, own hostname, masked /proc, read-only /sys"
    )
    assert results["ids"] == [0, "0\n0\n"]
    assert results["exit"] == [42, ""]
    assert results["proc"] == [0, "1\n1\n"]
    code, out = results["chown"]
    assert code == 1
    assert "Invalid argument" in out
    assert results["host_owner"] == [user.uid, user.gid]


def test_single_map_refuses_other_users_with_a_hint(
    single_results: tuple[User, dict[str, Any]],
) -> None:
    user, results = single_results
    kind, name, message = results["as_user"]
    assert (kind, name) == ("error", "SandboxError")
    assert "cannot run as user 1000:1000" in message
    assert f"no /etc/subuid range for user {user.name}" in message
    assert f"usermod --add-subuids 200000-265535 --add-subgids 200000-265535 {user.name}" in message
