"""Sources of RUN's bind and cache mounts: resolved inside the root they come from.

A bind source names a path in the build context, a stage or an image. Handed to mount(2)
as ``<root>/<source>``, a symlink on the way (``data -> /etc`` in a context) would be followed
on the host, and the host's files would reach the command and the image. So the source is
resolved the way BuildKit resolves it: every symlink, the last component too, is followed
inside its own root, and ``..`` stops at that root. The result has no symlink left, and
nothing outside the root can be named.

A bind of the context shows what COPY sees: when ``.dockerignore`` hides something below the
source, the mount gets a view of the rest (hard links where the file system allows, copies
otherwise), never the hidden files.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from pytest_imagebuild.builder.context import BuildContext
from pytest_imagebuild.builder.sandbox.paths import resolve
from pytest_imagebuild.errors import SandboxError

__all__ = ["context_view", "resolve_source"]


def resolve_source(root: Path, source: str, fail: Callable[[str], Exception]) -> Path:
    """The host path of ``source`` inside ``root``, every symlink followed within ``root``."""
    try:
        host = resolve(root, source)
    except SandboxError as error:
        raise fail(f"mount source {source!r}: {error.message}") from None
    except OSError as error:
        raise fail(f"mount source {source!r}: {error.strerror}") from None
    if not os.path.lexists(host):
        raise fail(f"mount source {source or '/'!r} does not exist")
    return host


def _relative(context: BuildContext, host: Path) -> str:
    rel = os.path.relpath(host, context.root)
    return "" if rel == "." else rel


def _hides_below(context: BuildContext, host: Path) -> bool:
    """Whether ``.dockerignore`` leaves out anything below directory ``host``."""
    if not host.is_dir():
        return False
    for current, dirs, files in os.walk(host):
        rel_dir = _relative(context, Path(current))
        for name in [*dirs, *files]:
            if context.excluded(f"{rel_dir}/{name}" if rel_dir else name):
                return True
    return False


def context_view(context: BuildContext, host: Path, dest: Path, *, copy: bool) -> Path | None:
    """A view of ``host`` (inside the context) without what ``.dockerignore`` hides, built at
    ``dest``; None when nothing below ``host`` is hidden and the source can be used as is."""
    if not context.ignore.patterns:
        return None
    base = _relative(context, host)
    if base and context.excluded(base):
        raise SandboxError(
            f"mount source {base!r} is excluded by .dockerignore",
            hint="remove the pattern from .dockerignore or mount another path",
        )
    if not _hides_below(context, host):
        return None
    _view(context, host, dest, copy=copy)
    return dest


def _view(context: BuildContext, source: Path, dest: Path, *, copy: bool) -> None:
    info = source.lstat()
    if stat.S_ISDIR(info.st_mode):
        os.mkdir(dest, 0o700)
        for name in sorted(os.listdir(source)):
            rel = _relative(context, source / name)
            if context.excluded(rel):
                continue
            _view(context, source / name, dest / name, copy=copy)
        os.chmod(dest, stat.S_IMODE(info.st_mode))
    elif stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), dest)  # a link stays a link: never followed on the host
    elif stat.S_ISREG(info.st_mode):
        if copy:
            shutil.copy2(source, dest, follow_symlinks=False)
        else:
            try:
                os.link(source, dest, follow_symlinks=False)
            except OSError:
                shutil.copy2(source, dest, follow_symlinks=False)
