"""WORKDIR: set the working directory (relative to the previous one) and create it."""

from __future__ import annotations

import posixpath

from .base import Where
from .copyfs import Copier
from .history import nop_string
from .state import StageState

__all__ = ["normalize_workdir", "workdir_step"]


def normalize_workdir(current: str, requested: str) -> str:
    """Docker's rule: relative paths join the current one; absolute paths stay as written."""
    if requested.startswith("/"):
        return requested
    return posixpath.normpath(posixpath.join("/", current or "/", requested))


def workdir_step(where: Where, state: StageState) -> tuple[str, list[str]]:
    """Returns (created_by, root-relative directories created)."""
    if not where.instruction.args or not where.instruction.args[0]:
        raise where.error("WORKDIR requires exactly one argument")
    requested = where.expand(where.instruction.args[0], state.expansion_env())
    if not requested:
        raise where.error("cannot normalize nothing")
    path = normalize_workdir(state.workdir, requested)
    state.config["WorkingDir"] = path
    created: list[str] = []
    if state.root is not None:
        copier = Copier(state.root)
        copier.ensure_dir(path)
        created = sorted(copier.created)
    return nop_string(state.shell, "WORKDIR " + path), created
