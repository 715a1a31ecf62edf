"""Extracting trusted test archives on every Python 3.11 (filters arrived in 3.11.4)."""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path


def extract_all(
    tar: tarfile.TarFile, dest: Path, members: Sequence[tarfile.TarInfo] | None = None
) -> None:
    """``tar.extractall`` with the ``data`` filter where this Python has it.

    Debian 12's interpreter is 3.11.2, which has no extraction filters; the archives
    extracted here are made by the tests or by docker, not taken from outside.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
    else:
        tar.extractall(dest, members=members)
