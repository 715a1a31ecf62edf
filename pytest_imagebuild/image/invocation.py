"""What ``docker run IMAGE [ARGS]`` would execute, worked out from the image alone.

:func:`resolve` applies the image's entrypoint, cmd, env, user and workdir the way docker does
(overrides win), and looks user and group names up in the image's ``/etc/passwd`` and
``/etc/group``. The result is a plain :class:`Invocation`; running it is the job of a
:class:`CommandRunner` (the plugin's sandbox runner), so the read side never starts processes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pytest_imagebuild.errors import UsageError

if TYPE_CHECKING:
    from pytest_imagebuild.image.image import Image

__all__ = ["CommandRunner", "Invocation", "RunResult", "resolve"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Invocation:
    """One command ready to run: argv, environment, working directory and numeric ids."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    workdir: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    stdin: bytes | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    merge_stderr: bool = False  # stderr="stdout": one stream, in the order it was written


@dataclass(frozen=True)
class RunResult:
    """What a command did: its exit code and its output as bytes.

    ``merged_output`` is True when the image has no ``/bin/sh`` to separate the streams:
    stderr is then part of ``stdout`` and ``stderr`` is empty.
    """

    argv: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: bytes
    merged_output: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return (
            f"RunResult(argv={list(self.argv)!r}, exit_code={self.exit_code}, "
            f"stdout={_cut(self.stdout)!r}, stderr={_cut(self.stderr)!r})"
        )


def _cut(data: bytes, limit: int = 200) -> bytes:
    return data if len(data) <= limit else data[:limit] + b"..."


class CommandRunner(Protocol):
    """Runs invocations in an image's filesystem; each call gets one throwaway view in
    which the invocations run one after another (setup, command, teardown)."""

    def execute(self, image: Image, invocations: Sequence[Invocation]) -> list[RunResult]: ...


def _table(image: Image, path: str) -> list[list[str]]:
    file = image.file(path, follow_symlinks=True)
    if not file.is_file:
        return []
    rows = []
    for line in file.read_bytes().decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _user(image: Image, spec: str) -> tuple[int, int, str, str | None]:
    """uid, primary gid, home and the passwd name of the user part of a USER spec."""
    for row in _table(image, "/etc/passwd"):
        if len(row) >= 7 and (row[0] == spec or row[2] == spec):
            try:
                return int(row[2]), int(row[3]), row[5] or "/", row[0]
            except ValueError:
                continue
    if spec.isdigit():
        return int(spec), 0, "/", None
    raise UsageError(
        f"unable to find user {spec}: no matching entries in the image's /etc/passwd",
        hint="give a numeric uid, or add the user to the image",
    )


def _group(image: Image, spec: str) -> int:
    for row in _table(image, "/etc/group"):
        if len(row) >= 3 and (row[0] == spec or row[2] == spec) and row[2].isdigit():
            return int(row[2])
    if spec.isdigit():
        return int(spec)
    raise UsageError(
        f"unable to find group {spec}: no matching entries in the image's /etc/group",
        hint="give a numeric gid, or add the group to the image",
    )


def _supplementary(image: Image, name: str | None) -> tuple[int, ...]:
    if name is None:
        return ()
    found = []
    for row in _table(image, "/etc/group"):
        if len(row) >= 4 and name in row[3].split(",") and row[2].isdigit():
            found.append(int(row[2]))
    return tuple(sorted(set(found)))


def resolve_user(image: Image, spec: str) -> tuple[int, int, tuple[int, ...], str]:
    """uid, gid, supplementary groups and home for a USER value ("", name, uid, u:g).

    As docker does, the groups hold the primary gid first, then the groups of
    ``/etc/group`` that list the user (only when no group was named).
    """
    user, sep, group = (spec or "0").partition(":")
    uid, gid, home, name = _user(image, user or "0")
    if sep and group:
        return uid, _group(image, group), (_group(image, group),), home
    extra = tuple(g for g in _supplementary(image, name) if g != gid)
    return uid, gid, (gid, *extra), home


def _argv(
    image: Image,
    command: Sequence[str] | str | None,
    entrypoint: Sequence[str] | str | None,
) -> tuple[str, ...]:
    if isinstance(command, str):
        if entrypoint is not None:
            raise UsageError(
                "a str command runs through the image's shell and replaces the entrypoint: "
                "do not give entrypoint= too",
                hint="pass the command as a list to append it to an entrypoint",
            )
        shell = image.shell or ("/bin/sh", "-c")
        return (*shell, command)
    if entrypoint is not None:
        # docker run --entrypoint: the image's cmd is dropped too.
        base = [entrypoint] if isinstance(entrypoint, str) else list(entrypoint)
        return (*[part for part in base if part], *(command or ()))
    head = image.entrypoint or ()
    tail = tuple(command) if command is not None else (image.cmd or ())
    return (*head, *tail)


def resolve(
    image: Image,
    command: Sequence[str] | str | None = None,
    *,
    entrypoint: Sequence[str] | str | None = None,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    workdir: str | None = None,
    stdin: bytes | str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    stderr: str = "pipe",
) -> Invocation:
    """The invocation ``docker run`` would make of ``image`` with these overrides.

    ``command`` as a list replaces the image's cmd (``docker run IMAGE ARGS``); as a str it
    runs through the image's shell (its ``SHELL``, else ``/bin/sh -c``) with the entrypoint
    replaced, as ``docker run --entrypoint /bin/sh IMAGE -c STR``. ``entrypoint`` is
    ``--entrypoint`` (``""`` or ``[]`` clears it, and the image's cmd goes with it).
    ``stderr="stdout"`` sends standard error into stdout, as ``2>&1`` does; ``"pipe"`` keeps
    it apart.
    """
    if stderr not in ("pipe", "stdout"):
        raise UsageError(
            f"stderr must be 'pipe' or 'stdout', not {stderr!r}",
            hint='stderr="stdout" merges the two streams as 2>&1 does',
        )
    argv = _argv(image, command, entrypoint)
    if not argv:
        raise UsageError(
            f"nothing to run in {image!r}: it has no entrypoint or cmd and none was given",
            hint="pass a command, e.g. image.run(['sh', '-c', 'true'])",
        )
    where = workdir if workdir is not None else (image.workdir or "/")
    if not where.startswith("/"):
        raise UsageError(f"workdir {where!r} is not an absolute path")
    uid, gid, groups, home = resolve_user(image, user if user is not None else image.user)
    merged = dict(image.env)
    merged.update(env or {})
    merged.setdefault("PATH", DEFAULT_PATH)
    merged.setdefault("HOME", home)
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return Invocation(
        argv,
        tuple(merged.items()),
        where,
        uid,
        gid,
        groups,
        data,
        timeout,
        merge_stderr=stderr == "stdout",
    )
