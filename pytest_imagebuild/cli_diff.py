"""``imagebuild diff A B``: what differs between two images, as a table or JSON.

Exit codes: 0 the images are the same, 1 they differ, 2 an error (bad arguments, an image
that cannot be opened).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from pytest_imagebuild.builder.cache import default_cache_dir
from pytest_imagebuild.cli import SubcommandParser
from pytest_imagebuild.diff import diff
from pytest_imagebuild.diff.compare import SECTIONS
from pytest_imagebuild.diff.render import diff_table, to_json
from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image

__all__ = ["diff_main", "make_diff_parser"]


def make_diff_parser() -> argparse.ArgumentParser:
    parser = SubcommandParser(
        prog="imagebuild diff",
        description="Show what differs between two images (docker-archive tarball, OCI "
        "layout directory or OCI archive). Exit 0 same, 1 different, 2 error.",
    )
    parser.add_argument("a", metavar="A", help="the old image")
    parser.add_argument("b", metavar="B", help="the new image")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="RULE",
        help='path glob starting with "/", a field such as mtime or config.labels.x, '
        "GLOB:FIELD, or a package rule such as packages.dpkg.libc*:upgraded (repeat)",
    )
    parser.add_argument(
        "--semantic", action="store_true", help="leave out timestamps and layer encoding"
    )
    parser.add_argument(
        "--only",
        default=None,
        metavar="SECTIONS",
        help=f"compare only these sections, comma-separated: {','.join(SECTIONS)}",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (schema_version 2)")
    parser.add_argument("--platform", default=None, help="platform to open, e.g. linux/amd64")
    parser.add_argument(
        "--index-cache",
        default=None,
        metavar="DIR",
        help="where layer indexes are kept by digest, so a later diff of the same layers "
        "skips reading them (default: <imagebuild cache dir>/index)",
    )
    parser.add_argument(
        "--no-index-cache", action="store_true", help="index every layer again, keep nothing"
    )
    return parser


def _index_cache(args: argparse.Namespace) -> Path | None:
    if args.no_index_cache:
        return None
    return Path(args.index_cache) if args.index_cache else default_cache_dir() / "index"


def diff_main(argv: Sequence[str]) -> int:
    args = make_diff_parser().parse_args(argv)
    try:
        with ExitStack() as stack:
            index = _index_cache(args)
            a = stack.enter_context(Image.open(args.a, platform=args.platform, index_cache=index))
            b = stack.enter_context(Image.open(args.b, platform=args.platform, index_cache=index))
            only = None if args.only is None else args.only.split(",")
            result = diff(a, b, ignore=args.ignore, semantic=args.semantic, only=only)
    except ImageBuildError as exc:
        print(f"imagebuild diff: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"imagebuild diff: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        return 130
    sys.stdout.write(to_json(result) if args.json else diff_table(result))
    return 0 if result.is_empty else 1
