"""Run code as uid 0 inside a user namespace, so a build needs no real root.

The builder calls :func:`run_in_userns` once at start: it forks, the child unshares a user and a
mount namespace, the parent maps ids into it (``newuidmap``/``newgidmap`` with the ranges of
``/etc/subuid`` and ``/etc/subgid``: the *full* map; or, without such ranges, the *single* map of
uid 0 to the caller's own uid), the child becomes uid 0 and runs the function, and its pickled
result comes back through a pipe. Real root skips all of this and calls the function directly.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import pwd
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast

from pytest_imagebuild.builder.sandbox import libc
from pytest_imagebuild.builder.sandbox.diagnose import userns_refused
from pytest_imagebuild.errors import SandboxError

__all__ = [
    "IdMapping",
    "IdRange",
    "current",
    "outside_user",
    "plan",
    "remove_tree",
    "run_in_userns",
    "subuid_remedy",
]

T = TypeVar("T")
MappingKind = Literal["none", "full", "single"]
_HINT_SUBUID = (
    "give the user subordinate ids, e.g. `usermod --add-subuids 200000-265535 "
    "--add-subgids 200000-265535 USER`, and install newuidmap (package uidmap)"
)


@dataclass(frozen=True)
class IdRange:
    """``count`` ids starting at ``inside`` in the namespace map to ``outside`` on the host."""

    inside: int
    outside: int
    count: int


@dataclass(frozen=True)
class IdMapping:
    """The uid/gid mapping a build runs under: ``none`` (real root), ``full`` or ``single``."""

    kind: MappingKind
    uids: tuple[IdRange, ...] = ()
    gids: tuple[IdRange, ...] = ()
    # single although the user has /etc/subuid and /etc/subgid ranges: newuidmap failed
    ranges_refused: bool = False

    @property
    def size(self) -> int:
        return sum(r.count for r in self.uids)

    def host_uid(self, uid: int) -> int | None:
        return _lookup(self.uids, uid) if self.kind != "none" else uid

    def host_gid(self, gid: int) -> int | None:
        return _lookup(self.gids, gid) if self.kind != "none" else gid

    def describe(self) -> str:
        if self.kind == "none":
            return "root, no user namespace"
        if self.kind == "single":
            why = "; newuidmap did not map the /etc/subuid range" if self.ranges_refused else ""
            return f"single-id user namespace (0 -> {self.uids[0].outside}, no other ids{why})"
        return f"rootless user namespace, full uid map ({self.size} ids)"


def outside_user(mapping: IdMapping) -> str:
    """The host user whose uid is 0 in ``mapping`` (a name, or the number without one)."""
    outside = mapping.uids[0].outside if mapping.uids else os.getuid()
    try:
        return pwd.getpwuid(outside).pw_name
    except KeyError:
        return str(outside)


def subuid_remedy(mapping: IdMapping) -> str:
    """What gives the build's user other ids: the ``usermod`` line with the user's name."""
    name = outside_user(mapping)
    if mapping.ranges_refused:
        return (
            f"{name} has /etc/subuid and /etc/subgid ranges, but newuidmap could not map them: "
            "run newuidmap by hand to see why (it must be setuid root or carry cap_setuid; "
            "in a container it needs CAP_SETUID and setuid programs allowed)"
        )
    return (
        f"give {name} subordinate ids (as root: `usermod --add-subuids 200000-265535 "
        f"--add-subgids 200000-265535 {name}`, and install newuidmap from package uidmap)"
    )


def _lookup(ranges: tuple[IdRange, ...], value: int) -> int | None:
    for r in ranges:
        if r.inside <= value < r.inside + r.count:
            return r.outside + value - r.inside
    return None


def _read_map(path: str) -> tuple[IdRange, ...]:
    with open(path) as handle:
        rows = [line.split() for line in handle if line.strip()]
    return tuple(IdRange(int(a), int(b), int(c)) for a, b, c in rows)


def current() -> IdMapping:
    """The mapping this process runs under, read from ``/proc/self/uid_map``."""
    uids, gids = _read_map("/proc/self/uid_map"), _read_map("/proc/self/gid_map")
    if uids == (IdRange(0, 0, 4294967295),):
        return IdMapping("none", uids, gids)
    if sum(r.count for r in uids) != 1:
        return IdMapping("full", uids, gids)
    return IdMapping("single", uids, gids, ranges_refused=_has_ranges(uids[0].outside))


def _has_ranges(uid: int) -> bool:
    """Whether host user ``uid`` has subordinate uid and gid ranges and the tools to map them."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    tools = shutil.which("newuidmap") and shutil.which("newgidmap")
    subuids = _subordinate("/etc/subuid", name, uid)
    return bool(tools and subuids and _subordinate("/etc/subgid", name, uid))


def _subordinate(path: str, name: str, uid: int) -> list[tuple[int, int]]:
    try:
        with open(path) as handle:
            rows = [line.strip().split(":") for line in handle]
    except FileNotFoundError:
        return []
    return [
        (int(row[1]), int(row[2]))
        for row in rows
        if len(row) == 3 and row[0] in (name, str(uid)) and row[1].isdigit() and row[2].isdigit()
    ]


def _full_ranges(own: int, subs: list[tuple[int, int]]) -> tuple[IdRange, ...]:
    ranges, inside = [IdRange(0, own, 1)], 1
    for start, count in subs:
        ranges.append(IdRange(inside, start, count))
        inside += count
    return tuple(ranges)


def plan(kind: Literal["auto", "full", "single"] = "auto") -> IdMapping:
    """The mapping :func:`run_in_userns` would set up for the calling user."""
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        return IdMapping("none")
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    subuids = _subordinate("/etc/subuid", name, uid)
    subgids = _subordinate("/etc/subgid", name, uid)
    tools = shutil.which("newuidmap") and shutil.which("newgidmap")
    if kind == "full" and not (subuids and subgids and tools):
        raise SandboxError(
            f"no subordinate ids for user {name} (or no newuidmap)", hint=_HINT_SUBUID
        )
    if kind != "single" and subuids and subgids and tools:
        return IdMapping("full", _full_ranges(uid, subuids), _full_ranges(gid, subgids))
    return IdMapping("single", (IdRange(0, uid, 1),), (IdRange(0, gid, 1),))


def _write_maps(pid: int, mapping: IdMapping) -> str | None:
    """Map ids into the namespace of ``pid``; return an error text or None."""
    if mapping.kind == "full":
        for tool, ranges in (("newuidmap", mapping.uids), ("newgidmap", mapping.gids)):
            args = [str(n) for r in ranges for n in (r.inside, r.outside, r.count)]
            done = subprocess.run(
                [tool, str(pid), *args], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                return f"{tool} failed: {done.stderr.strip() or done.returncode}"
        return None
    try:
        Path(f"/proc/{pid}/uid_map").write_text(f"0 {mapping.uids[0].outside} 1\n")
        Path(f"/proc/{pid}/setgroups").write_text("deny\n")
        Path(f"/proc/{pid}/gid_map").write_text(f"0 {mapping.gids[0].outside} 1\n")
    except OSError as error:
        return f"writing the id maps failed: {error}"
    return None


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _child(ready_w: int, go_r: int, result_w: int, fn: Callable[[], object]) -> None:
    """In the forked child: enter the namespaces, wait for the maps, run ``fn``. Never returns."""
    code = 0
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)
        except OSError as error:
            os.write(ready_w, f"E{error.errno}".encode())
            os._exit(1)
        os.write(ready_w, b"1")
        if os.read(go_r, 1) != b"1":
            os._exit(1)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        with contextlib.suppress(OSError):  # refused in a single map ("deny")
            os.setgroups([])  # the caller's other groups would show as 65534 inside
        try:
            payload = pickle.dumps(("ok", fn()))
        except BaseException as error:  # everything goes back to the parent
            error.add_note("in the user namespace:\n" + traceback.format_exc())
            try:
                payload = pickle.dumps(("err", error))
            except Exception:
                payload = pickle.dumps(("err", SandboxError(traceback.format_exc())))
        with os.fdopen(result_w, "wb") as out:
            out.write(payload)
    except BaseException:
        code = 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_in_userns(
    fn: Callable[..., T], *args: object, kind: Literal["auto", "full", "single"] = "auto"
) -> T:
    """Call ``fn(*args)`` as uid 0: directly when root, else in a forked user namespace.

    The result (or the exception) must pickle. ``kind`` forces a mapping; ``auto`` prefers
    the full subordinate map and falls back to a single uid.
    """
    if os.geteuid() == 0:
        return fn(*args)
    mapping = plan(kind)
    sys.stdout.flush()  # the child flushes its own output only
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    result_r, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        os.close(result_r)
        _child(ready_w, go_r, result_w, lambda: fn(*args))
    for fd in (ready_w, go_r, result_w):
        os.close(fd)
    try:
        ready = os.read(ready_r, 16)
        if ready != b"1":
            os.close(go_w)
            number = int(ready[1:]) if ready.startswith(b"E") else 0
            reason, hint = userns_refused(number)
            raise SandboxError(f"cannot create a user namespace: {reason}", hint=hint)
        problem = _write_maps(pid, mapping)
        if problem and kind == "auto" and mapping.kind == "full" and "newuidmap" in problem:
            mapping = plan("single")
            problem = _write_maps(pid, mapping)
        if problem:
            os.close(go_w)
            raise SandboxError(problem, hint=_HINT_SUBUID)
        os.write(go_w, b"1")
        os.close(go_w)
        payload = _read_all(result_r)
    finally:
        os.close(ready_r)
        _, status = os.waitpid(pid, 0)
    if not payload:
        raise SandboxError(
            f"the user namespace process ended without a result (status {status})",
            hint="see its output above",
        )
    tag, value = pickle.loads(payload)  # noqa: S301 - our own child wrote it
    if tag == "err":
        raise cast(BaseException, value)
    return cast(T, value)


def remove_tree(path: Path | str) -> None:
    """Delete a build directory, including files owned by subordinate ids."""
    if not os.path.lexists(path):
        return
    run_in_userns(shutil.rmtree, str(path))
