"""``imagebuild``: kaniko's executor flags, the embedded executor behind them.

Exit codes: 0 built (and pushed), 1 the build failed, 2 the command line is wrong.
``imagebuild diff A B`` compares two images instead (``cli_diff.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_imagebuild.builder import contexts
from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.fs.rootstore import parse_size
from pytest_imagebuild.builder.log import FORMATS, LEVELS, BuildLog, LogSettings
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.registry import parse_registry_map
from pytest_imagebuild.errors import ImageBuildError, UsageError

__all__ = ["main", "make_parser", "options_from_args"]


class SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser (``imagebuild diff``, ``warm``, ``prune``): a wrong command line
    is ``<prog>: error: <message>`` after the usage, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _flag(parser: argparse.ArgumentParser, *names: str, **kwargs: object) -> None:
    parser.add_argument(*names, **kwargs)  # type: ignore[arg-type]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagebuild",
        description="Build a Dockerfile into an image without a daemon or root (kaniko's flags).",
    )
    multi = {"action": "append", "default": []}
    boolean = {"nargs": "?", "const": True, "default": False, "type": _bool}
    _flag(parser, "--context", "-c", default="/workspace/", help="directory, dir://, tar://")
    _flag(
        parser,
        "--dockerfile",
        "-f",
        default=None,
        help="path to the Dockerfile (default: the context's Dockerfile)",
    )
    _flag(parser, "--destination", "-d", **multi, help="image reference to push/tag (repeat)")
    _flag(parser, "--build-arg", **multi, help="KEY=VALUE, or KEY taken from the environment")
    _flag(parser, "--target", default=None, help="stage to build (case-insensitive)")
    _flag(
        parser,
        "--build-context",
        **multi,
        help="name=docker-image://REF, name=oci-layout://PATH[:TAG|@DIGEST] or name=DIR: "
        "BuildKit's named contexts (repeat)",
    )
    _flag(parser, "--label", **multi, help="key=value label for the image config")
    _flag(parser, "--no-push", **boolean, help="build only; do not push")
    _flag(parser, "--tar-path", "--tarPath", default=None, help="write a docker-archive tarball")
    _flag(parser, "--oci-layout-path", default=None, help="write an OCI image layout")
    _flag(parser, "--digest-file", default=None, help="write the manifest digest here")
    _flag(parser, "--image-name-with-digest-file", default=None, help="write repo@digest lines")
    _flag(parser, "--image-name-tag-with-digest-file", default=None, help="repo:tag@digest lines")
    _flag(
        parser,
        "--skip-unused-stages",
        **{**boolean, "default": True},
        help="build only the target's stages (default true; =false builds every stage)",
    )
    _flag(parser, "--single-snapshot", **boolean, help="one layer for the whole final stage")
    _flag(
        parser,
        "--compression",
        default=None,
        choices=("gzip", "zstd"),
        help="compression of the layers the build writes (default gzip when pushing)",
    )
    _flag(
        parser,
        "--compression-level",
        type=_level,
        default=None,
        help="compression level: gzip 0-9 (above 3 as 3), zstd 1-22; -1 the default",
    )
    _flag(
        parser,
        "--reproducible",
        **boolean,
        help="image, history and file times at SOURCE_DATE_EPOCH (default 0): same inputs, "
        "same digest",
    )
    _flag(parser, "--ignore-path", **multi, help="path left out of snapshots (repeat)")
    _flag(parser, "--custom-platform", "--customPlatform", default=None, help="os/arch[/variant]")
    _flag(parser, "--insecure", **boolean, help="push over plain HTTP")
    _flag(parser, "--insecure-pull", **boolean, help="pull over plain HTTP")
    _flag(parser, "--skip-tls-verify", **boolean, help="do not verify TLS when pushing")
    _flag(parser, "--skip-tls-verify-pull", **boolean, help="do not verify TLS when pulling")
    _flag(parser, "--registry-mirror", **multi, help="Docker Hub pull-through mirror (repeat)")
    _flag(parser, "--insecure-registry", **multi, help="registry reached over plain HTTP (repeat)")
    _flag(parser, "--skip-tls-verify-registry", **multi, help="registry whose TLS is not checked")
    _flag(parser, "--registry-certificate", **multi, help="REGISTRY=CA.pem (repeat)")
    _flag(parser, "--registry-client-cert", **multi, help="REGISTRY=CERT.pem,KEY.pem (repeat)")
    _flag(parser, "--registry-map", **multi, help="REGISTRY=MIRROR[;...]: pulls try MIRROR first")
    _flag(
        parser,
        "--skip-default-registry-fallback",
        **boolean,
        help="pull only from the mirrors of a mapped registry, never from it",
    )
    _flag(parser, "--push-retry", type=_count, default=0, help="retries of a failed push")
    _flag(parser, "--image-download-retry", type=_count, default=0, help="retries of a failed pull")
    _flag(parser, "--verbosity", "-v", default="info", choices=LEVELS, help="log level")
    _flag(parser, "--log-format", default="color", choices=FORMATS, help="how messages look")
    _flag(parser, "--log-timestamp", **boolean, help="times of day in color logs")
    _flag(parser, "--cache", **boolean, help="use the layer cache")
    _flag(
        parser, "--cache-dir", default=None, help="local layer cache (default ~/.cache/imagebuild)"
    )
    _flag(parser, "--cache-repo", default=None, help="registry repository for cached layers")
    _flag(parser, "--cache-ttl", default="336h", help="how long cache entries stay valid")
    _flag(parser, "--cache-copy-layers", **boolean, help="cache COPY/ADD layers too")
    _flag(parser, "--cache-run-layers", **{**boolean, "default": True}, help="cache RUN layers")
    _flag(parser, "--no-push-cache", **boolean, help="do not push layers to the cache repo")
    _flag(
        parser,
        "--root-store-size",
        type=_store_size,
        default=10 << 30,
        help="with --cache: bytes of unpacked base images kept in <cache dir>/roots for "
        "later builds (default 10G; 0 keeps none; an imagebuild extension)",
    )
    _flag(parser, "--cleanup", **boolean, help="refused: the build directory is always removed")
    _flag(parser, "--force", **boolean, help="refused: no container is required")
    _flag(parser, "--secret", **multi, help="id=NAME,src=FILE for RUN --mount=type=secret")
    _flag(parser, "--ssh", **multi, help="default|ID[=SOCKET|KEY[,KEY]] for RUN --mount=type=ssh")
    _flag(parser, "--build-root", default=None, help="where the build directory is made")
    _flag(
        parser,
        "--keep-build-dir",
        **boolean,
        help="leave the build directory (stage roots, blob store, logs) in place and print "
        "its path (an imagebuild extension, not a kaniko flag)",
    )
    return parser


def _store_size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: a number from 0 up")
    return int(text)


def _level(text: str) -> int | None:
    try:
        level = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid level {text!r}: a whole number") from None
    if level == -1:
        return None  # kaniko's "the algorithm's default"
    if not 0 <= level <= 22:
        raise argparse.ArgumentTypeError(f"invalid level {level}: -1, or 0 to 22")
    return level


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _build_args(
    values: Sequence[str], environ: dict[str, str]
) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid --build-arg {item!r}", hint="use KEY=VALUE or KEY")
        out.append((key, value if sep else environ.get(key)))
    return tuple(out)


def _pairs(flag: str, values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid {flag} {item!r}", hint=f"use {flag} key=value")
        out.append((key, value))
    return tuple(out)


def _secrets(values: Sequence[str]) -> tuple[tuple[str, Path], ...]:
    out = []
    for item in values:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        ident, src = fields.get("id"), fields.get("src") or fields.get("source")
        if not ident or not src:
            raise UsageError(f"invalid --secret {item!r}", hint="use --secret id=NAME,src=FILE")
        out.append((ident, Path(src).absolute()))
    return tuple(out)


def _client_certs(values: Sequence[str]) -> tuple[tuple[str, Path, Path], ...]:
    out = []
    for host, pair in _pairs("--registry-client-cert", values):
        cert, sep, key = pair.partition(",")
        if not sep or not cert or not key:
            raise UsageError(
                f"invalid --registry-client-cert {host}={pair}",
                hint="use --registry-client-cert REGISTRY=/path/cert.pem,/path/key.pem",
            )
        out.append((host, Path(cert).absolute(), Path(key).absolute()))
    return tuple(out)


def _registry_map(values: Sequence[str], environ: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """kaniko's ``--registry-map`` values and ``KANIKO_REGISTRY_MAP``, mirrors in order."""
    found: dict[str, tuple[str, ...]] = {}
    texts = [
        *values,
        *([environ["KANIKO_REGISTRY_MAP"]] if environ.get("KANIKO_REGISTRY_MAP") else []),
    ]
    for text in texts:
        for key, mirrors in parse_registry_map(text).items():
            found[key] = (*found.get(key, ()), *mirrors)
    return found


def _ssh(values: Sequence[str]) -> tuple[tuple[str, tuple[Path, ...]], ...]:
    """BuildKit's ``--ssh default`` / ``--ssh ID=SOCKET`` / ``--ssh ID=KEY[,KEY...]``."""
    out: dict[str, tuple[Path, ...]] = {}
    for item in values:
        ident, sep, paths = item.partition("=")
        if not ident or "," in ident or (sep and not paths):
            raise UsageError(
                f"invalid --ssh {item!r}", hint="use --ssh default or --ssh ID=SOCKET|KEY[,KEY]"
            )
        out[ident] = tuple(Path(p).absolute() for p in paths.split(",") if p) if sep else ()
    return tuple(out.items())


def _source_date_epoch(
    args: argparse.Namespace,
    build_args: tuple[tuple[str, str | None], ...],
    environ: dict[str, str],
) -> int | None:
    """BuildKit's ``SOURCE_DATE_EPOCH`` (a build argument, else the environment); kaniko's
    ``--reproducible`` without one is the epoch itself, 0."""
    given = dict(build_args).get("SOURCE_DATE_EPOCH") or environ.get("SOURCE_DATE_EPOCH")
    if not given:
        return 0 if args.reproducible else None
    if not (given.isascii() and given.isdigit()):
        raise UsageError(
            f"invalid SOURCE_DATE_EPOCH {given!r}", hint="seconds since 1970, e.g. 1700000000"
        )
    return int(given)


def _compression(args: argparse.Namespace) -> str | None:
    if args.compression_level is not None and args.compression is None and args.no_push:
        raise UsageError(
            "--compression-level without --compression changes nothing when nothing is pushed",
            hint="add --compression gzip or zstd (the OCI layout then gets compressed layers)",
        )
    if args.compression == "gzip" and (args.compression_level or 0) > 9:
        raise UsageError(f"gzip has levels 0 to 9, not {args.compression_level}")
    return str(args.compression) if args.compression else None


def registry_fields(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, Any]:
    """The per-registry flags a build and ``imagebuild warm`` share, as BuildOptions fields."""
    return {
        "insecure_registries": tuple(args.insecure_registry),
        "skip_tls_verify_registries": tuple(args.skip_tls_verify_registry),
        "registry_certificates": tuple(
            (host, Path(path).absolute())
            for host, path in _pairs("--registry-certificate", args.registry_certificate)
        ),
        "client_certs": _client_certs(args.registry_client_cert),
        "registry_map": tuple(_registry_map(args.registry_map, environ).items()),
        "skip_default_registry_fallback": bool(args.skip_default_registry_fallback),
        "docker_config": _path(environ.get("DOCKER_CONFIG")),
    }


def _path(value: str | None) -> Path | None:
    return Path(value).absolute() if value else None


# kaniko flags that would change nothing here: refused, with the reason
_REFUSED = {
    "cleanup": (
        "--cleanup is not needed: imagebuild always removes its build directory (stage "
        "roots, unpacked images) at the end and never touches the host's filesystem",
        "drop --cleanup; --keep-build-dir keeps the directory for debugging",
    ),
    "force": (
        "--force is not needed: imagebuild runs outside containers without it",
        "drop --force",
    ),
}


def log_settings(args: argparse.Namespace) -> LogSettings:
    """``--verbosity``, ``--log-format`` and ``--log-timestamp``."""
    if args.log_timestamp and args.log_format not in ("color", "text"):
        raise UsageError(
            f"--log-timestamp applies to the color and text formats, not {args.log_format}",
            hint="json lines always carry their time; drop --log-timestamp",
        )
    return LogSettings(level=args.verbosity, format=args.log_format, timestamps=args.log_timestamp)


def options_from_args(args: argparse.Namespace, environ: dict[str, str]) -> BuildOptions:
    for name, (reason, hint) in _REFUSED.items():
        if getattr(args, name):
            raise UsageError(reason, hint=hint)
    no_push = bool(args.no_push) or environ.get("KANIKO_NO_PUSH", "").lower() == "true"
    if not args.destination and not no_push:
        raise UsageError(
            "you must provide --destination, or use --no-push",
            hint="kaniko's rule: a build without a destination needs --no-push",
        )
    if (args.image_name_with_digest_file or args.image_name_tag_with_digest_file) and (
        not args.destination
    ):
        raise UsageError("--image-name-with-digest-file needs --destination")
    mirrors = list(args.registry_mirror)
    if environ.get("KANIKO_REGISTRY_MIRROR"):
        mirrors += environ["KANIKO_REGISTRY_MIRROR"].split(";")
    build_args = _build_args(args.build_arg, environ)
    return BuildOptions(
        context=args.context,
        dockerfile=args.dockerfile,
        destinations=tuple(args.destination),
        build_args=build_args,
        source_date_epoch=_source_date_epoch(args, build_args, environ),
        compression=_compression(args),
        compression_level=args.compression_level,
        target=args.target,
        labels=_pairs("--label", args.label),
        no_push=no_push,
        tar_path=_path(args.tar_path),
        oci_layout_path=_path(args.oci_layout_path),
        digest_file=_path(args.digest_file),
        image_name_with_digest_file=_path(args.image_name_with_digest_file),
        image_name_tag_with_digest_file=_path(args.image_name_tag_with_digest_file),
        skip_unused_stages=bool(args.skip_unused_stages),
        single_snapshot=bool(args.single_snapshot),
        ignore_paths=tuple(args.ignore_path),
        custom_platform=args.custom_platform,
        insecure=bool(args.insecure),
        insecure_pull=bool(args.insecure_pull),
        skip_tls_verify=bool(args.skip_tls_verify),
        skip_tls_verify_pull=bool(args.skip_tls_verify_pull),
        registry_mirrors=tuple(mirrors),
        **registry_fields(args, environ),
        cache=bool(args.cache),
        cache_dir=_path(args.cache_dir),
        cache_repo=args.cache_repo,
        cache_ttl=args.cache_ttl,
        cache_copy_layers=bool(args.cache_copy_layers),
        root_store_size=args.root_store_size,
        cache_run_layers=bool(args.cache_run_layers),
        no_push_cache=bool(args.no_push_cache),
        secrets=_secrets(args.secret),
        ssh=_ssh(args.ssh),
        build_root=_path(args.build_root),
        keep_build_dir=bool(args.keep_build_dir),
        push_retries=args.push_retry,
        pull_retries=args.image_download_retry,
        build_contexts=_build_contexts(args.build_context),
    )


def _build_contexts(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--build-context`` pairs, checked now (paths made absolute) so a typo fails first."""
    pairs = tuple(
        (name, contexts.anchored(value, Path.cwd()))
        for name, value in map(contexts.parse_flag, values)
    )
    contexts.NamedContexts.parse(pairs)
    return pairs


def internal_error(exc: BaseException) -> str:
    """One line for a defect of the tool itself, with where it happened and what to do."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (
        f"imagebuild: internal error: {type(exc).__name__}: {exc}{where}\n"
        "  hint: this is a defect of imagebuild, not of your build; please report it with "
        "the Dockerfile that caused it (IMAGEBUILD_TRACEBACK=1 prints the traceback)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # subcommands; any other first word is a kaniko-style build
    if argv[:1] == ["diff"]:
        from pytest_imagebuild.cli_diff import diff_main

        return _guarded(diff_main, argv[1:])
    if argv[:1] == ["warm"]:
        from pytest_imagebuild.cli_warm import warm_main

        return _guarded(warm_main, argv[1:])
    if argv[:1] == ["prune"]:
        from pytest_imagebuild.cli_prune import prune_main

        return _guarded(prune_main, argv[1:])
    return _guarded(_build_main, argv)


def _guarded(command: Callable[[list[str]], int], argv: list[str]) -> int:
    """``command``'s exit code; a defect is one line (exit 70), never a traceback."""
    try:
        return command(argv)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("IMAGEBUILD_TRACEBACK") == "1":
            traceback.print_exception(exc, file=sys.stderr)
        print(internal_error(exc), file=sys.stderr)
        return 70


def _build_main(argv: list[str]) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    settings = LogSettings(level=args.verbosity, format=args.log_format)
    try:
        settings = log_settings(args)
        options = options_from_args(args, dict(os.environ))
        result = build(options, log=settings)
    except UsageError as exc:
        _error(settings, exc)
        return 2
    except ImageBuildError as exc:
        _error(settings, exc)
        return 1
    log = BuildLog(settings, sys.stderr)
    log.message(f"built {result.manifest_digest} (image id {result.image_id})")
    return 0


def _error(settings: LogSettings, exc: ImageBuildError) -> None:
    """The project's error; one JSON line when the log is JSON, so log readers keep it."""
    if settings.format == "json":
        sys.stderr.write(BuildLog(settings, None).format(f"error: {exc}", "error"))
    else:
        print(f"imagebuild: error: {exc}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
