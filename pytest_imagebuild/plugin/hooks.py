"""pytest entry point (pytest11 ``imagebuild``): options, ini keys, marker, fixtures, hooks.

The logic lives in the modules beside it: ``factory`` (which image, opened or built),
``repr`` (assertion explanations) and ``report``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.errors import DockerError, ImageBuildError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.baselines_plugin import (
    add_baseline_options,
    configure_baselines,
    image_baseline,
)
from pytest_imagebuild.plugin.builds import BuildSettings, ImageBuilder, prune_images
from pytest_imagebuild.plugin.containers import ContainerStarter
from pytest_imagebuild.plugin.factory import ImageFactory
from pytest_imagebuild.plugin.parity import ParityBuilder
from pytest_imagebuild.plugin.report import build_header_line, header_line, image_summary
from pytest_imagebuild.plugin.repr import explain_comparison
from pytest_imagebuild.plugin.runner import SandboxRunner
from pytest_imagebuild.plugin.settings import RUN_DIR_KEY, add_build_options, build_settings
from pytest_imagebuild.plugin.sources import (
    MARKER_SIGNATURE,
    ImageSource,
    TarballSource,
    no_image_error,
    source_from_marker,
    source_from_param,
)
from pytest_imagebuild.plugin.structure_items import StructureFile, structure_files
from pytest_imagebuild.plugin.summary import BuildRecord, skipped_lines, summary_lines

__all__ = [
    "image",
    "image_baseline",
    "image_container",
    "image_factory",
    "pytest_addoption",
    "pytest_assertrepr_compare",
    "pytest_collect_file",
    "pytest_collection_finish",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
]

SECTION = "imagebuild"
LOG_SECTION = "imagebuild build log"
WORKER_OUTPUT = "imagebuild_records"
WORKER_PROBLEMS = "imagebuild_cleanup_problems"
factory_key = pytest.StashKey[ImageFactory]()
configured_key = pytest.StashKey[TarballSource | None]()
settings_key = pytest.StashKey[BuildSettings]()
worker_records_key = pytest.StashKey[list[BuildRecord]]()
worker_problems_key = pytest.StashKey[list[str]]()
image_key = pytest.StashKey[Image]()
structure_key = pytest.StashKey[dict[Path, ImageSource | None]]()
structure_seen_key = pytest.StashKey[set[Path]]()
build_log_key = pytest.StashKey[str]()
containers_key = pytest.StashKey[ContainerStarter]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imagebuild", "container images (pytest-imagebuild)")
    group.addoption(
        "--imagebuild-image",
        metavar="PATH",
        dest="imagebuild_image",
        help="image for the 'image' fixture: docker-archive tarball, OCI layout or OCI "
        "archive (overrides the imagebuild_image ini key)",
    )
    group.addoption(
        "--imagebuild-platform",
        metavar="PLATFORM",
        dest="imagebuild_platform",
        help="platform to open from multi-platform images, e.g. linux/arm64/v8 "
        "(default: the host's)",
    )
    parser.addini(
        "imagebuild_image",
        "image for the 'image' fixture, relative to the ini file's directory",
        type="string",
        default="",
    )
    parser.addini(
        "imagebuild_platform",
        "platform to open from multi-platform images, e.g. linux/amd64",
        type="string",
        default="",
    )
    group.addoption(
        "--imagebuild-structure-tests",
        metavar="GLOB[=IMAGE]",
        action="append",
        default=[],
        dest="imagebuild_structure_tests",
        help="container-structure-test YAML files to collect (repeat); =IMAGE names a tarball "
        "or a Dockerfile to run them on (default: the --imagebuild-image image)",
    )
    parser.addini(
        "imagebuild_structure_tests",
        "container-structure-test YAML files, GLOB or GLOB=IMAGE per line (ini-relative)",
        type="linelist",
    )
    add_build_options(parser)
    add_baseline_options(parser)


def _platform(config: pytest.Config) -> str | None:
    platform = (
        config.getoption("imagebuild_platform") or str(config.getini("imagebuild_platform")).strip()
    )
    return platform or None


def _configured(config: pytest.Config) -> TarballSource | None:
    option = config.getoption("imagebuild_image")
    if option:
        return TarballSource(config.invocation_params.dir / option, None, "--imagebuild-image")
    value = str(config.getini("imagebuild_image")).strip()
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    where = config.inipath if config.inipath is not None else "the ini file"
    return TarballSource(base / value, None, f"imagebuild_image in {where}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER_SIGNATURE}: the image for the 'image' fixture: build a Dockerfile, or "
        "open an existing image with image=PATH (paths relative to the test file)",
    )
    config.stash[configured_key] = _configured(config)
    config.stash[settings_key] = build_settings(config, _platform(config))
    config.stash[worker_records_key] = []
    configure_baselines(config)
    config.stash[structure_key] = structure_files(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: workers share the controller's cache directory, even a per-run one."""
    config = getattr(node, "config", None)
    workerinput = getattr(node, "workerinput", None)
    if isinstance(config, pytest.Config) and isinstance(workerinput, dict):
        workerinput[RUN_DIR_KEY] = str(config.stash[settings_key].cache_dir)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> StructureFile | None:
    config = parent.config
    files = config.stash.get(structure_key, {})
    if file_path.absolute() not in files:
        return None
    source = files[file_path.absolute()] or config.stash.get(configured_key, None)
    config.stash.setdefault(structure_seen_key, set()).add(file_path.absolute())
    return StructureFile.from_parent(
        parent, path=file_path, source=source, factory_of=lambda: _factory(config)
    )


def _factory(config: pytest.Config) -> ImageFactory:
    factory = config.stash.get(factory_key, None)
    if factory is None:
        cache = getattr(config, "cache", None)
        settings = config.stash[settings_key]
        factory = ImageFactory(
            index_cache=cache.mkdir("imagebuild") / "index" if cache is not None else None,
            platform=settings.platform,
            builder=ParityBuilder(settings) if settings.parity else ImageBuilder(settings),
            runner=SandboxRunner(settings.cache_dir / "run"),
        )
        config.stash[factory_key] = factory
    return factory


def pytest_collection_finish(session: pytest.Session) -> None:
    """Named structure-test files outside what pytest collected (testpaths, the rootdir)
    would silently not run: say so, unless the command line chose the paths."""
    config = session.config
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return
    seen = config.stash.get(structure_seen_key, set())
    missed = sorted(str(path) for path in config.stash.get(structure_key, {}) if path not in seen)
    if missed:
        raise pytest.UsageError(
            f"structure-test files outside the collected paths ({', '.join(config.args)}): "
            f"{', '.join(missed)}; add their directory to testpaths"
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    source = config.stash.get(configured_key, None)
    settings = config.stash[settings_key]
    lines: list[str] = []
    if config.get_verbosity() > 0 or _cache_dir_given(config):
        lines.append(build_header_line(settings))
    if source is None and config.get_verbosity() <= 0:
        return lines
    factory = _factory(config)
    opened: Image | None = None
    error: ImageBuildError | None = None
    if source is not None:
        try:
            opened = factory.get(source)
        except ImageBuildError as exc:
            error = exc
    path = source.path if source is not None else None
    return [header_line(path, opened, error, factory.index_cache), *lines]


def _cache_dir_given(config: pytest.Config) -> bool:
    return bool(
        config.getoption("imagebuild_cache_dir") or str(config.getini("imagebuild_cache_dir"))
    )


@pytest.fixture(scope="session")
def image_factory(pytestconfig: pytest.Config) -> ImageFactory:
    """Builds and opens images for the session: each distinct build once, each file
    opened once while it is unchanged."""
    return _factory(pytestconfig)


def _source(request: pytest.FixtureRequest) -> ImageSource:
    __tracebackhide__ = True
    base = request.path.parent
    if hasattr(request, "param"):
        return source_from_param(request.param, base, f"parameter {request.param!r}")
    marker = request.node.get_closest_marker("dockerfile")
    if marker is not None:
        origin = f"@pytest.mark.dockerfile for {request.node.nodeid}"
        return source_from_marker(marker.args, marker.kwargs, base, origin)
    configured = request.config.stash.get(configured_key, None)
    if configured is None:
        raise no_image_error(request.node.nodeid)
    return configured


@pytest.fixture
def image(request: pytest.FixtureRequest, image_factory: ImageFactory) -> Image:
    """The image under test: from indirect parametrization, the nearest
    ``dockerfile`` marker, ``--imagebuild-image`` or the ``imagebuild_image`` ini key."""
    __tracebackhide__ = True
    try:
        opened = image_factory.get(_source(request))
    except ImageBuildError as exc:
        log = image_factory.build_log(exc)
        if log is not None:
            request.node.stash[build_log_key] = log
        raise
    request.node.stash[image_key] = opened
    return opened


@pytest.fixture
def image_container(
    request: pytest.FixtureRequest, image_factory: ImageFactory
) -> Iterator[ContainerStarter]:
    """Starts images as testcontainers ``DockerContainer``s (needs the ``[docker]`` extra):
    ``image_container(image=None, ports=, env=, command=, wait_for_log=, wait_for_http=,
    wait_for_healthy=, timeout=)``; containers and loaded images are removed at the end."""
    starter = ContainerStarter(
        request.node.nodeid, image_factory.path_of, lambda: request.getfixturevalue("image")
    )
    request.node.stash[containers_key] = starter
    yield starter
    problems = starter.close()
    if problems:
        raise DockerError("could not clean up after the test: " + "; ".join(problems))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    log = item.stash.get(build_log_key, None)
    if report.failed and report.when == "setup" and log is not None:
        report.sections.append((LOG_SECTION, log or "(the build wrote no output)"))
    starter = item.stash.get(containers_key, None)
    if report.failed and starter is not None and report.when != "teardown":
        report.sections += starter.report_sections()
    opened = item.stash.get(image_key, None)
    if report.failed and opened is not None:
        path = _factory(item.config).path_of(opened)
        report.sections.append((SECTION, image_summary(opened, path)))
    return report


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    factory = config.stash.get(factory_key, None)

    def name_of(opened: Image) -> str:
        path = factory.path_of(opened) if factory is not None else None
        return f"image {path}" if path is not None else "the image"

    return explain_comparison(op, left, right, name_of, config.get_verbosity())


def pytest_sessionfinish(session: pytest.Session) -> None:
    factory = session.config.stash.get(factory_key, None)
    if factory is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if isinstance(workeroutput, dict) and factory.builder is not None:
        workeroutput[WORKER_OUTPUT] = [r.to_dict() for r in factory.builder.records]
        workeroutput[WORKER_PROBLEMS] = list(factory.builder.problems)
    factory.close()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist: collect what each worker built, for the controller's summary."""
    output = getattr(node, "workeroutput", None)
    config = getattr(node, "config", None)
    if not isinstance(output, dict) or not isinstance(config, pytest.Config):
        return
    records = config.stash.setdefault(worker_records_key, [])
    records += [BuildRecord.from_dict(item) for item in output.get(WORKER_OUTPUT, [])]
    problems = config.stash.setdefault(worker_problems_key, [])
    problems += [str(item) for item in output.get(WORKER_PROBLEMS, []) if item not in problems]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    records = [*config.stash.get(worker_records_key, [])]
    factory = config.stash.get(factory_key, None)
    if factory is not None and factory.builder is not None:
        records += factory.builder.records
    lines = summary_lines(records, config.stash[settings_key].cache_dir)
    if factory is not None and factory.builder is not None:
        lines += [f"could not remove: {p}" for p in factory.builder.problems]
    lines += [f"could not remove: {p}" for p in config.stash.get(worker_problems_key, [])]
    if getattr(config, "workerinput", None) is None:  # the controller, once per session
        lines += prune_images(config.stash[settings_key])
    warnings = skipped_lines(records)
    if lines or warnings:
        terminalreporter.write_sep("-", "imagebuild")
        for line in lines:
            terminalreporter.write_line(line)
        for line in warnings:
            terminalreporter.write_line(line, yellow=True)
