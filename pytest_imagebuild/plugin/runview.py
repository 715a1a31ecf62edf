"""Inside the runner's child: a throwaway writable view of an unpacked root, and the commands.

The unpacked root is the overlay's lower directory and is never written; the upper directory
lives in a scratch directory next to it and goes when the child ends. Where overlayfs does not
mount (no mount namespace, an old kernel, a filesystem it refuses), the view is a full copy
(``cp -a``, with reflinks where the filesystem has them).

stdout arrives through the sandbox's output pipe. To keep stderr apart and feed stdin, a
command runs as ``/bin/sh -c 'exec "$@" <IN 2>ERR' sh ARGV...`` with the image's own shell:
``exec`` replaces the shell, so the command keeps its pid, argv, environment and exit code.
The two files sit in ``/.imagebuild-run`` of the view, removed after each command. An image
without ``/bin/sh`` runs the command directly, with stderr merged into stdout.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pytest_imagebuild.builder import sandbox, userns
from pytest_imagebuild.builder.sandbox import libc
from pytest_imagebuild.errors import SandboxError, UsageError
from pytest_imagebuild.image.invocation import Invocation, RunResult

__all__ = ["IO_DIR", "run_in_view"]

IO_DIR = "/.imagebuild-run"
_WRAPPER = f'exec "$@" <"{IO_DIR}/stdin" 2>"{IO_DIR}/stderr"'
_MERGED = f'exec "$@" <"{IO_DIR}/stdin" 2>&1'
# Variables a shell sets for itself; the command gets them only when the caller set them.
_SHELL_OWN = ("SHLVL", "PWD", "OLDPWD")


def _wrapper(env: dict[str, str], merged: bool) -> str:
    keep = [f"{name}={shlex.quote(env[name])}; export {name}" for name in _SHELL_OWN if name in env]
    return "; ".join([f"unset {' '.join(_SHELL_OWN)}", *keep, _MERGED if merged else _WRAPPER])


def _overlay(base: Path, scratch: Path, merged: Path, rootless: bool) -> bool:
    if any(ch in str(scratch) + str(base) for ch in ",:"):
        return False  # overlayfs option syntax cannot carry these characters
    upper, work = scratch / "upper", scratch / "work"
    upper.mkdir()
    work.mkdir()
    os.chmod(upper, os.stat(base).st_mode & 0o7777)
    options = f"lowerdir={base},upperdir={upper},workdir={work}"
    # In a user namespace overlayfs keeps its metadata in user.* xattrs (kernel 5.11+).
    for extra in (",userxattr", "") if rootless else ("",):
        try:
            libc.mount("overlay", str(merged), "overlay", 0, options + extra)
        except OSError:
            continue
        return True
    return False


def _copy(base: Path, merged: Path) -> None:
    merged.rmdir()
    done = subprocess.run(
        ["cp", "-a", "--reflink=auto", f"{base}/.", str(merged)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise SandboxError(
            f"cannot copy {base} for a command's writable view: "
            f"{done.stderr.decode(errors='replace').strip()}",
            hint="free disk space in the imagebuild cache directory",
        )


def _one(root: Path, invocation: Invocation, mode: sandbox.SandboxMode, shell: bool) -> RunResult:
    argv = list(invocation.argv)
    io = root / IO_DIR.lstrip("/")
    if shell:
        shutil.rmtree(io, ignore_errors=True)
        io.mkdir(mode=0o755)
        os.chmod(io, 0o755)  # noqa: S103 - every user of the command reads it
        (io / "stdin").write_bytes(invocation.stdin or b"")
        (io / "stderr").write_bytes(b"")
        os.chmod(io / "stdin", 0o644)
        os.chmod(io / "stderr", 0o666)  # noqa: S103 - the command's user writes it
        wrapper = _wrapper(dict(invocation.env), invocation.merge_stderr)
        argv = ["/bin/sh", "-c", wrapper, "sh", *argv]
    elif invocation.stdin:
        raise UsageError(
            "stdin= needs /bin/sh in the image, which this image lacks",
            hint="run the command without stdin",
        )
    # setgroups is denied in a single-id user namespace: the sandbox skips it there, and the
    # process keeps the groups it has.
    groups = () if userns.current().kind == "single" else invocation.groups
    out = bytearray()
    try:
        code = sandbox.run(
            root,
            argv,
            env=dict(invocation.env),
            workdir=invocation.workdir,
            user=f"{invocation.uid}:{invocation.gid}",
            groups=groups,
            output=out.extend,
            timeout=invocation.timeout,
            mode=mode,
        )
        err = (io / "stderr").read_bytes() if shell and not invocation.merge_stderr else b""
    finally:
        if shell:
            shutil.rmtree(io, ignore_errors=True)
    merged = not shell or invocation.merge_stderr
    return RunResult(invocation.argv, code, bytes(out), err, merged_output=merged)


def run_in_view(
    can_mount: bool,
    base: str,
    scratch: str,
    mode: sandbox.SandboxMode,
    shell: bool,
    rootless: bool,
    overlay: bool,
    invocations: Sequence[Invocation],
) -> tuple[str, list[RunResult]]:
    """Run ``invocations`` one after another in one fresh view of ``base``.

    Returns the kind of view ("overlay" or "copy") and the results. Removes ``scratch``.
    """
    work = Path(scratch)
    merged = work / "merged"
    merged.mkdir()
    mounted = overlay and can_mount and _overlay(Path(base), work, merged, rootless)
    try:
        if not mounted:
            _copy(Path(base), merged)
        results = [_one(merged, item, mode, shell) for item in invocations]
    finally:
        if mounted:
            libc.umount2(str(merged), libc.MNT_DETACH)
        shutil.rmtree(work, ignore_errors=True)
    return ("overlay" if mounted else "copy"), results
