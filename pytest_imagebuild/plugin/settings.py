"""Build options: ``--imagebuild-*`` flags, their ini keys, and the resulting settings.

A flag beats its ini key; an ini path is relative to the ini file's directory, a flag's to
the directory pytest was started from.

Without a cache directory given and without pytest's cache (``-p no:cacheprovider``), the
cache is a per-run directory ``pytest-imagebuild-<random>`` in the system temp directory: a
live directory (``builder.livedirs``) that the controller removes at the end of the session,
that xdist workers share (its path goes to them in ``workerinput``), and that a later run
removes if this one was killed before it could.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

from pytest_imagebuild.builder.livedirs import live_dir, reap_dead
from pytest_imagebuild.plugin.builds import EXECUTORS, BuildSettings

__all__ = [
    "RUN_DIR_KEY",
    "add_build_options",
    "build_settings",
    "cache_root",
    "parse_size",
]

RUN_DIR_KEY = "imagebuild_run_dir"
"""The ``workerinput`` key that hands the controller's per-run cache directory to workers."""
_RUN_PREFIX = "pytest-imagebuild-"

_FLAGS = (
    ("no_cache", "rebuild every image: ignore cached images and cached layers"),
    ("offline", "never contact a registry: fail when a build would pull a base image"),
    (
        "keep_build_dirs",
        "keep each build's whole build directory (stage roots, blob store, logs) under "
        "<cache dir>/build-dirs/<key>",
    ),
)


def add_build_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("imagebuild")
    group.addoption(
        "--imagebuild-cache-dir",
        metavar="DIR",
        dest="imagebuild_cache_dir",
        help="where built images and cached layers live (default: pytest's cache, "
        ".pytest_cache/d/imagebuild, so --cache-clear resets it)",
    )
    parser.addini("imagebuild_cache_dir", "build cache directory", type="string", default="")
    group.addoption(
        "--imagebuild-cache-max-size",
        metavar="SIZE",
        dest="imagebuild_cache_max_size",
        help="at the end of the session, remove the least recently used built images until "
        "their tarballs total at most SIZE (such as 2GB or 500MiB); images this session used "
        "stay",
    )
    parser.addini(
        "imagebuild_cache_max_size", "size bound of the built images", type="string", default=""
    )
    group.addoption(
        "--imagebuild-cache-repo",
        metavar="REPO",
        dest="imagebuild_cache_repo",
        help="registry repository (or oci:/dir) of cached layers that builds on every machine "
        "share, as imagebuild --cache-repo: looked up after the local cache, filled by each build",
    )
    parser.addini("imagebuild_cache_repo", "shared layer cache repository", "string", default="")
    for name, text in _FLAGS:
        group.addoption(
            f"--imagebuild-{name.replace('_', '-')}",
            action="store_true",
            default=None,
            dest=f"imagebuild_{name}",
            help=text,
        )
        parser.addini(f"imagebuild_{name}", text, type="bool", default=False)
    group.addoption(
        "--imagebuild-build-arg",
        metavar="K=V",
        action="append",
        default=[],
        dest="imagebuild_build_args",
        help="build argument for every build (repeat; K alone takes $K); marker build_args win",
    )
    parser.addini("imagebuild_build_args", "build arguments, K=V per line", type="linelist")
    group.addoption(
        "--imagebuild-registry-mirror",
        metavar="HOST",
        action="append",
        default=[],
        dest="imagebuild_registry_mirrors",
        help="Docker Hub pull-through mirror (repeat)",
    )
    parser.addini("imagebuild_registry_mirrors", "registry mirrors, one per line", "linelist")
    group.addoption(
        "--imagebuild-insecure-registry",
        metavar="HOST",
        action="append",
        default=[],
        dest="imagebuild_insecure_registries",
        help="registry reached over plain HTTP (repeat)",
    )
    parser.addini(
        "imagebuild_insecure_registries", "plain-HTTP registries, one per line", "linelist"
    )
    group.addoption(
        "--imagebuild-executor",
        metavar="NAME",
        dest="imagebuild_executor",
        help=f"which builder builds Dockerfiles: {', '.join(EXECUTORS)} (default: embedded)",
    )
    parser.addini("imagebuild_executor", "builder for Dockerfiles", type="string", default="")
    group.addoption(
        "--imagebuild-parity",
        metavar="NAME",
        dest="imagebuild_parity",
        help="build every image with this executor too and fail a test whose image differs "
        f"({', '.join(EXECUTORS)})",
    )
    parser.addini("imagebuild_parity", "second executor for parity runs", "string", "")
    group.addoption(
        "--imagebuild-parity-ignore",
        metavar="RULE",
        action="append",
        default=[],
        dest="imagebuild_parity_ignores",
        help="what may differ in parity runs: a path glob (/var/log/**) or a field "
        "(config.labels.build-date), as imagebuild diff --ignore takes (repeat)",
    )
    parser.addini("imagebuild_parity_ignores", "parity ignore rules, one per line", "linelist")


def _flag(config: pytest.Config, name: str) -> bool:
    given = config.getoption(f"imagebuild_{name}")
    return bool(given) if given is not None else bool(config.getini(f"imagebuild_{name}"))


def _lines(config: pytest.Config, name: str) -> list[str]:
    given = [str(v) for v in config.getoption(f"imagebuild_{name}") or []]
    return given or [str(v).strip() for v in config.getini(f"imagebuild_{name}") if str(v).strip()]


def _build_args(values: list[str]) -> tuple[tuple[str, str | None], ...]:
    args: dict[str, str | None] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not key.strip():
            raise pytest.UsageError(f"imagebuild build arg {value!r}: expected K=V or K")
        args[key.strip()] = item if sep else os.environ.get(key.strip())
    return tuple(args.items())


def cache_root(config: pytest.Config, problems: list[str] | None = None) -> Path:
    """The build cache directory: flag, ini key, pytest's cache, else a per-run directory
    (what could not be removed of dead runs' directories goes to ``problems``)."""
    given = config.getoption("imagebuild_cache_dir")
    if given:
        return (config.invocation_params.dir / str(given)).absolute()
    value = str(config.getini("imagebuild_cache_dir")).strip()
    if value:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return (base / value).absolute()
    cache: pytest.Cache | None = getattr(config, "cache", None)
    if cache is not None:
        return cache.mkdir("imagebuild")
    return _run_dir(config, [] if problems is None else problems)


def _run_dir(config: pytest.Config, problems: list[str]) -> Path:
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict) and workerinput.get(RUN_DIR_KEY):
        return Path(str(workerinput[RUN_DIR_KEY]))  # the controller owns it
    base = Path(tempfile.gettempdir())
    problems += reap_dead(base, _RUN_PREFIX)
    stack = contextlib.ExitStack()
    path = stack.enter_context(live_dir(base, _RUN_PREFIX))

    def remove() -> None:
        try:
            stack.close()
        except OSError as exc:
            sys.stderr.write(f"imagebuild: {exc}\n")

    config.add_cleanup(remove)
    return path


def build_settings(config: pytest.Config, platform: str | None) -> BuildSettings:
    """Every build option of the session; raises pytest.UsageError for bad values."""
    executor = (
        config.getoption("imagebuild_executor")
        or str(config.getini("imagebuild_executor")).strip()
        or "embedded"
    )
    if executor not in EXECUTORS:
        raise pytest.UsageError(
            f"--imagebuild-executor: unknown executor {executor!r} "
            f"(available: {', '.join(EXECUTORS)})"
        )
    parity = (
        config.getoption("imagebuild_parity") or str(config.getini("imagebuild_parity")).strip()
    ) or None
    if parity is not None and (parity not in EXECUTORS or parity == executor):
        others = [name for name in EXECUTORS if name != executor]
        raise pytest.UsageError(
            f"--imagebuild-parity: {parity!r} is not another executor than {executor!r} "
            f"(available: {', '.join(others)})"
        )
    ini_args = [str(v).strip() for v in config.getini("imagebuild_build_args") if str(v).strip()]
    cli_args = [str(v) for v in config.getoption("imagebuild_build_args") or []]
    problems: list[str] = []
    return BuildSettings(
        cache_dir=cache_root(config, problems),
        no_cache=_flag(config, "no_cache"),
        offline=_flag(config, "offline"),
        keep_build_dirs=_flag(config, "keep_build_dirs"),
        build_args=_build_args(ini_args + cli_args),
        registry_mirrors=tuple(_lines(config, "registry_mirrors")),
        insecure_registries=tuple(_lines(config, "insecure_registries")),
        executor=executor,
        parity=parity,
        parity_ignore=tuple(_lines(config, "parity_ignores")),
        platform=platform,
        skip_dirs=_pytest_cache_dir(config),
        cleanup_problems=tuple(problems),
        cache_max_size=_max_size(config),
        cache_repo=config.getoption("imagebuild_cache_repo")
        or str(config.getini("imagebuild_cache_repo")).strip()
        or None,
    )


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40})
_UNITS.update({"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12})


def parse_size(text: str) -> int:
    """``2GB``, ``500MiB``, ``1.5G`` or a plain byte count, as bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise pytest.UsageError(
            f"--imagebuild-cache-max-size: invalid size {text!r} (use bytes or 500MB, 2GiB...)"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def _max_size(config: pytest.Config) -> int | None:
    value = config.getoption("imagebuild_cache_max_size") or str(
        config.getini("imagebuild_cache_max_size")
    )
    return parse_size(value) if value.strip() else None


def _pytest_cache_dir(config: pytest.Config) -> tuple[Path, ...]:
    try:
        cache_dir = config.getini("cache_dir")
    except ValueError:  # -p no:cacheprovider: the key is not declared
        return ()
    return ((config.rootpath / str(cache_dir)).absolute(),) if cache_dir else ()
