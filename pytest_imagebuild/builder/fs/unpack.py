"""Apply a layer blob (tar, tar+gzip, tar+zstd) onto a stage root directory.

Semantics follow Docker's layer application: whiteouts ``.wh.x`` remove ``x``, an opaque marker
``.wh..wh..opq`` empties what lower layers left in its directory, an existing path is replaced
unless both it and the member are directories (then they merge), ownership, permission bits
(set after ownership, so setuid survives), xattrs and mtimes are restored. Paths resolve inside
the root (see ``paths``); hostile names raise ImageFormatError naming the member.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_imagebuild.errors import ImageFormatError

from .applier import Applier, UnpackReport
from .paths import fast_clean
from .skipped import Skipped
from .streams import open_layer
from .tarformat import BLOCKDEV, CHAR, DIRECTORY, FIFO, HARDLINK, REGULAR, SYMLINK, Member
from .tarreader import TarReader

__all__ = ["OPAQUE", "WHITEOUT", "UnpackReport", "unpack_layer"]

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_SPECIAL = (SYMLINK, HARDLINK, FIFO, CHAR, BLOCKDEV)


def unpack_layer(
    blob: Path, root: Path, *, threads: int = 3, skipped: Skipped | None = None
) -> UnpackReport:
    """Apply the layer in ``blob`` onto the existing directory ``root``.

    ``threads`` small-file writers run beside the tar parser (0: write in the calling thread).
    What could not be applied goes to ``skipped`` (a build's collector) or a new one.
    Raises ImageFormatError for malformed or hostile members, SandboxError when ownership
    cannot be restored (no permission). Owners a user namespace lacks are recorded (``owners``).
    """
    where = f"layer {blob.name}"
    report = UnpackReport() if skipped is None else UnpackReport(skipped=skipped)
    applier = Applier(os.path.realpath(root), where, report, threads)
    ok = False
    try:
        with open_layer(blob) as (stream, compression):
            report.compression = compression
            _apply(TarReader(stream, where), applier, where)
        ok = True
    finally:
        applier.close(success=ok)
    return report


def _apply(reader: TarReader, applier: Applier, where: str) -> None:
    unpacked: set[str] = set()
    opaque: list[tuple[str, str]] = []
    while (member := reader.next()) is not None:
        applier.report.members += 1
        try:
            _member(reader, applier, member, where, unpacked, opaque)
        except ImageFormatError as exc:
            if "member" in exc.message:
                raise
            detail = exc.message.removeprefix(f"{where}: ")
            raise ImageFormatError(f"{where}: member {member.name!r}: {detail}") from exc
        except (NotADirectoryError, IsADirectoryError) as exc:
            raise ImageFormatError(f"{where}: member {member.name!r}: {exc.strerror}") from exc
        except ValueError as exc:  # e.g. a NUL byte inside a PAX path
            raise ImageFormatError(f"{where}: member {member.name!r}: {exc}") from exc
    if opaque:
        applier.barrier()
        _empty_opaque(applier, opaque, unpacked)


def _member(
    reader: TarReader,
    applier: Applier,
    member: Member,
    where: str,
    unpacked: set[str],
    opaque: list[tuple[str, str]],
) -> None:
    report = applier.report
    resolve = applier.resolver.directory
    name = fast_clean(member.name, where)
    if not name:
        return  # the root entry: the stage root keeps its own metadata
    parent, _, leaf = name.rpartition("/")
    if applier.pending and parent and not applier.resolver.cached(parent):
        parts = parent.split("/")
        if any("/".join(parts[:i]) in applier.pending for i in range(1, len(parts) + 1)):
            applier.barrier()  # a parent is a file still being written: let it land first
    if leaf.startswith(WHITEOUT):
        applier.barrier()
        report.whiteouts += 1
        parent_path = resolve(parent, create=False, where=where)
        if leaf == OPAQUE:
            opaque.append((parent, parent_path))
            return
        victim = leaf[len(WHITEOUT) :]
        if victim in (".", ".."):
            raise ImageFormatError(f"{where}: member {member.name!r} is a malformed whiteout")
        applier.replace(f"{parent_path}/{victim}")
        return
    if name in unpacked:
        applier.barrier()  # the same name twice: the later member wins, in order
    unpacked.add(name)
    path = f"{resolve(parent, create=True, where=where)}/{leaf}"
    kind = member.type
    if kind == REGULAR:
        applier.regular(reader, member, name, path)
    elif kind == DIRECTORY:
        applier.directory(member, path)
    elif kind in _SPECIAL:
        applier.special(member, path)
    else:
        report.skipped.add(member.name, f"tar member type {kind!r}", "unsupported")


def _empty_opaque(applier: Applier, opaque: list[tuple[str, str]], unpacked: set[str]) -> None:
    """Remove what lower layers left in opaque directories (this layer's members stay)."""
    for rel, path in opaque:
        prefix = f"{rel}/" if rel else ""
        try:
            children = os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for child in children:
            if prefix + child not in unpacked:
                applier.replace(f"{path}/{child}")
