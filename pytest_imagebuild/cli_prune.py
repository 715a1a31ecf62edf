"""``imagebuild prune [--keep-storage SIZE] [--cache-dir DIR]``: shrink the store of unpacked
base images (``<cache dir>/roots``) to SIZE, least recently used first, never touching what
a running build holds. Exit 0, or 2 for bad arguments or a store of another user.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_imagebuild.builder import userns
from pytest_imagebuild.builder.cache import default_cache_dir
from pytest_imagebuild.builder.fs.rootstore import RootStore, StoreUsage, parse_size
from pytest_imagebuild.cli import SubcommandParser

__all__ = ["make_prune_parser", "prune_main"]


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def make_prune_parser() -> argparse.ArgumentParser:
    parser = SubcommandParser(
        prog="imagebuild prune",
        description="Remove unpacked base images kept for builds, oldest use first, until "
        "at most --keep-storage bytes remain; entries in use by a running build stay.",
    )
    parser.add_argument(
        "--keep-storage",
        type=_size,
        default=0,
        metavar="SIZE",
        help="bytes to keep (K, M, G, T suffixes; default 0: remove every unused entry)",
    )
    parser.add_argument(
        "--cache-dir", default=None, help="the build cache (default ~/.cache/imagebuild)"
    )
    return parser


def _prune(roots: str, keep: int) -> tuple[StoreUsage, StoreUsage] | str:
    problems: list[str] = []
    store = RootStore.open(Path(roots), keep, problems.append)
    if store is None:
        return "".join(problems).strip()
    return store.evict(keep), store.usage()


def prune_main(argv: Sequence[str]) -> int:
    args = make_prune_parser().parse_args(list(argv))
    roots = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    roots = roots / "roots"
    if not roots.is_dir():
        print(f"imagebuild prune: nothing kept in {roots}")
        return 0
    # a rootless build's entries hold files of subordinate ids: remove them where it made them
    if os.geteuid() == 0:
        outcome = _prune(str(roots), args.keep_storage)
    else:
        outcome = userns.run_in_userns(_prune, str(roots), args.keep_storage)
    if isinstance(outcome, str):
        print(f"imagebuild prune: error: {outcome}", file=sys.stderr)
        return 2
    removed, left = outcome
    print(
        f"imagebuild prune: removed {removed.entries} unpacked bases ({removed.bytes} bytes); "
        f"{left.entries} kept ({left.bytes} bytes) in {roots}"
    )
    return 0
