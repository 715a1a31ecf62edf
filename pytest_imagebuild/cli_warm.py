"""``imagebuild warm``: kaniko's warmer. Fetches base images ahead into ``<cache dir>/bases``,
where builds with ``--cache`` and the same ``--cache-dir`` find them before any registry.

Exit codes: 0 when at least one image is in the cache afterwards (kaniko's rule: the warmer
fails only when every image fails), 1 when none is, 2 a wrong command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_imagebuild import oci
from pytest_imagebuild.builder import registry
from pytest_imagebuild.builder.cache import default_cache_dir, parse_ttl
from pytest_imagebuild.builder.dockerfile import parse_file
from pytest_imagebuild.builder.log import FORMATS, LEVELS, BuildLog, LogSettings
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.plan import host_platform_string, make_plan
from pytest_imagebuild.builder.pullpush import pull_options
from pytest_imagebuild.builder.warmer import WarmBases, warm
from pytest_imagebuild.cli import SubcommandParser, _bool, _build_args, registry_fields
from pytest_imagebuild.errors import ImageBuildError, UsageError

__all__ = ["make_warm_parser", "warm_main"]


def make_warm_parser() -> argparse.ArgumentParser:
    parser = SubcommandParser(prog="imagebuild warm", description=__doc__.split("\n\n")[0])
    multi: dict[str, object] = {"action": "append", "default": []}
    boolean: dict[str, object] = {"nargs": "?", "const": True, "default": False, "type": _bool}
    add = parser.add_argument
    add("--image", "-i", **multi, help="image to fetch (repeat)")  # type: ignore[arg-type]
    add("--dockerfile", "-d", default=None, help="fetch the base of every stage of this file")
    add("--build-arg", **multi, help="KEY=VALUE for ARGs in FROM lines")  # type: ignore[arg-type]
    add("--cache-dir", "-c", default=None, help="the cache directory builds use")
    add("--cache-ttl", default="336h", help="how long a fetched image stays fresh")
    add("--force", "-f", **boolean, help="fetch images again even when fresh")  # type: ignore[arg-type]
    add("--customPlatform", "--custom-platform", dest="platform", default=None, help="os/arch")
    add("--insecure-pull", **boolean, help="pull over plain HTTP")  # type: ignore[arg-type]
    add("--skip-tls-verify-pull", **boolean, help="do not verify TLS")  # type: ignore[arg-type]
    add("--insecure-registry", **multi, help="registry over plain HTTP")  # type: ignore[arg-type]
    add("--skip-tls-verify-registry", **multi, help="registry not verified")  # type: ignore[arg-type]
    add("--registry-certificate", **multi, help="REGISTRY=CA.pem")  # type: ignore[arg-type]
    add("--registry-client-cert", **multi, help="REGISTRY=CERT,KEY")  # type: ignore[arg-type]
    add("--registry-map", **multi, help="REGISTRY=MIRROR[;...]")  # type: ignore[arg-type]
    add("--registry-mirror", **multi, help="Docker Hub mirror")  # type: ignore[arg-type]
    add("--skip-default-registry-fallback", **boolean, help="mirrors only")  # type: ignore[arg-type]
    add("--image-download-retry", type=int, default=0, help="retries of a failed pull")
    add("--verbosity", "-v", default="info", choices=LEVELS, help="log level")
    add("--log-format", default="color", choices=FORMATS, help="how messages look")
    add("--log-timestamp", **boolean, help="times of day in color logs")  # type: ignore[arg-type]
    return parser


def _refs(args: argparse.Namespace, environ: dict[str, str], platform: str) -> list[str]:
    refs = list(args.image)
    if args.dockerfile:
        build_args = dict(_build_args(args.build_arg, environ))
        plan = make_plan(
            parse_file(Path(args.dockerfile)), build_args=build_args, target_platform=platform
        )
        for stage in plan.stages:
            if stage.base_stage is None and stage.base != "scratch" and stage.base not in refs:
                refs.append(stage.base)
    if not refs:
        raise UsageError("nothing to fetch", hint="name images with --image or a --dockerfile")
    return refs


def _registries(args: argparse.Namespace, environ: dict[str, str]) -> registry.Registries:
    options = BuildOptions(
        insecure_pull=bool(args.insecure_pull),
        skip_tls_verify_pull=bool(args.skip_tls_verify_pull),
        registry_mirrors=tuple(args.registry_mirror),
        pull_retries=args.image_download_retry,
        **registry_fields(args, environ),
    )
    return registry.Registries(pull_options(options))


def warm_main(argv: Sequence[str]) -> int:
    args = make_warm_parser().parse_args(list(argv))
    settings = LogSettings(args.verbosity, args.log_format, bool(args.log_timestamp))
    log = BuildLog(settings, sys.stderr)
    environ = dict(os.environ)
    try:
        platform = str(oci.Platform.parse(args.platform or host_platform_string()))
        bases = WarmBases(Path(args.cache_dir or default_cache_dir()), parse_ttl(args.cache_ttl))
        refs = _refs(args, environ, platform)
        with _registries(args, environ) as regs, log.capturing():
            result = warm(refs, bases, regs, platform, force=bool(args.force), log=log.message)
    except UsageError as exc:
        print(f"imagebuild warm: error: {exc}", file=sys.stderr)
        return 2
    except ImageBuildError as exc:
        print(f"imagebuild warm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if result.failed and not (result.warmed or result.kept):
        print("imagebuild warm: error: no image could be fetched", file=sys.stderr)
        return 1
    return 0
