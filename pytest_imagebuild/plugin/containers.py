"""Start an image as a testcontainers ``DockerContainer`` (the ``image_container`` fixture).

The image tarball is loaded into the daemon testcontainers finds, tagged with a name of its
own (``imagebuild-container/<random>``), and started with the ports, environment, command and
wait strategy the test asks for. Everything is bounded by a timeout. At the end of the test
(also on failure and Ctrl-C: pytest runs fixture finalizers then) each container is removed,
then the tag; the image itself is deleted when this load brought it into the daemon, so an
image that was there before, or that another test still holds by its own tag, stays.

testcontainers' Ryuk reaper is an image pulled from Docker Hub; the fixture does its own
clean-up, so Ryuk is left out while a container starts unless ``TESTCONTAINERS_RYUK_DISABLED``
is set, in which case that setting stands.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_imagebuild.errors import ContainerError, DockerError, UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.docker_daemon import connect

if TYPE_CHECKING:
    import docker
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import WaitStrategy

__all__ = ["LABEL", "ContainerStarter"]

LABEL = "org.pytest-imagebuild.test"
"""Label on every container the fixture starts (its value: the test's node id)."""


@dataclass
class _Loaded:
    tag: str
    image_id: str
    brought_in: tuple[str, ...]
    """Tags this load created (the archive's own names), removed before our tag."""
    new_image: bool


@dataclass
class _Started:
    container: DockerContainer
    name: str
    logs: str | None = None


@dataclass
class ContainerStarter:
    """``image_container(image=None, *, ports=(), env=None, command=None, entrypoint=None,
    wait_for_log=None, wait_for_http=None, wait_for_healthy=False, timeout=60.0)``.

    ``image`` is an :class:`Image` opened by the plugin (default: the test's ``image``
    fixture) or the path of an image tarball."""

    node_id: str
    path_of: Callable[[Image], Path | None]
    default_image: Callable[[], Image]
    _client: docker.DockerClient | None = field(default=None, init=False, repr=False)
    _loaded: dict[Path, _Loaded] = field(default_factory=dict, init=False, repr=False)
    started: list[_Started] = field(default_factory=list, init=False)

    def __call__(
        self,
        image: Image | str | os.PathLike[str] | None = None,
        *,
        ports: Sequence[int | str] = (),
        env: Mapping[str, str] | None = None,
        command: str | Sequence[str] | None = None,
        entrypoint: str | Sequence[str] | None = None,
        wait_for_log: str | re.Pattern[str] | None = None,
        wait_for_http: str | None = None,
        wait_for_healthy: bool = False,
        timeout: float = 60.0,
    ) -> DockerContainer:
        __tracebackhide__ = True
        if timeout <= 0:
            raise UsageError(f"image_container: timeout must be positive, got {timeout}")
        if wait_for_http is not None and not ports:
            raise UsageError(
                "image_container: wait_for_http needs ports=[...]: the first port is asked",
                hint="image_container(ports=[8080], wait_for_http='/healthz')",
            )
        path = self._path(image)
        loaded = self._load(path)  # connects first: a missing extra or daemon is said here
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(loaded.tag, docker_client_kw={"timeout": max(timeout, 30.0)})
        container.with_exposed_ports(*ports)
        for key, value in (env or {}).items():
            container.with_env(key, str(value))
        if command is not None:
            container.with_command(command if isinstance(command, str) else list(command))
        extra: dict[str, object] = {"labels": {LABEL: self.node_id}}
        if entrypoint is not None:
            extra["entrypoint"] = entrypoint if isinstance(entrypoint, str) else list(entrypoint)
        container.with_kwargs(**extra)
        strategy = _strategy(ports, wait_for_log, wait_for_http, wait_for_healthy, timeout)
        container.waiting_for(strategy)
        started = _Started(container, f"{path.name} as {loaded.tag}")
        self.started.append(started)
        try:
            with _ryuk_left_out():
                container.start()
        except Exception as exc:  # the wait strategies raise TimeoutError and RuntimeError
            started.logs = _logs_of(container)
            waited = _describe(wait_for_log, wait_for_http, wait_for_healthy)
            if isinstance(exc, (TimeoutError, RuntimeError)):
                what = f"did not become ready within {timeout:g}s (waiting for {waited})"
            else:  # the daemon refused to create or start it (docker's APIError)
                what = "could not start"
            detail = str(getattr(exc, "explanation", "") or "") or _first_line(exc)
            raise ContainerError(
                f"container of {path} {what}: {detail}",
                hint="the container log is below and in the 'imagebuild container' section; "
                "raise timeout= if the service is only slow",
                logs=started.logs,
            ) from None
        return container

    def _path(self, image: Image | str | os.PathLike[str] | None) -> Path:
        __tracebackhide__ = True
        chosen = self.default_image() if image is None else image
        if isinstance(chosen, Image):
            path = self.path_of(chosen)
            if path is None:
                raise UsageError(
                    "image_container: this image was not opened by the plugin, so its file "
                    "is unknown",
                    hint="pass the tarball's path, or an image from image / image_factory",
                )
        else:
            path = Path(chosen).absolute()
        if not path.is_file():
            raise UsageError(
                f"image_container: docker loads tarballs, and {path} is not a file",
                hint="save the image as a docker-archive tarball (docker save, imagebuild "
                "--tar-path)",
            )
        return path

    def _connect(self) -> docker.DockerClient:
        __tracebackhide__ = True
        if self._client is None:
            self._client = connect()
        return self._client

    def _load(self, path: Path) -> _Loaded:
        __tracebackhide__ = True
        loaded = self._loaded.get(path)
        if loaded is not None:
            return loaded
        client = self._connect()
        with Image.open(path) as opened:
            image_id, names = opened.id, opened.repo_tags
        new_image = not _exists(client, image_id)
        before = {name for name in names if _exists(client, name)}
        brought = tuple(name for name in names if name not in before)
        tag = f"imagebuild-container/{uuid.uuid4().hex[:16]}:latest"
        # recorded before the load, so an interrupted load is cleaned up too
        loaded = self._loaded[path] = _Loaded(tag, image_id, brought, new_image)
        try:
            with path.open("rb") as data:
                images = client.images.load(data)
        except Exception as exc:
            raise DockerError(f"docker could not load {path}: {_first_line(exc)}") from None
        if not images:
            raise DockerError(f"docker loaded nothing from {path}")
        images[0].tag(tag)
        return loaded

    def report_sections(self) -> list[tuple[str, str]]:
        """(title, log) per container of the test, for a failed test's report."""
        sections = []
        for started in self.started:
            logs = started.logs if started.logs is not None else _logs_of(started.container)
            sections.append((f"imagebuild container {started.name}", logs or "(no output)"))
        return sections

    def close(self) -> list[str]:
        """Remove the containers, then the tags and images loaded here; what failed."""
        problems: list[str] = []
        for started in self.started:
            try:
                started.container.stop()
            except Exception as exc:
                if "No such container" not in str(exc):
                    problems.append(f"container {started.name}: {_first_line(exc)}")
        self.started.clear()
        client = self._client
        for loaded in self._loaded.values():
            if client is not None:
                problems += _unload(client, loaded)
        self._loaded.clear()
        if client is not None:
            client.close()
        self._client = None
        return problems


def _unload(client: docker.DockerClient, loaded: _Loaded) -> list[str]:
    """Our tag; when the load brought the image in, its archive names and, if nothing else
    names it then, the image itself."""
    problems = []
    names = [*loaded.brought_in, loaded.tag] if loaded.new_image else [loaded.tag]
    for name in names:
        try:
            client.images.remove(name)
        except Exception as exc:  # another test's container may still use the image
            if "No such image" not in str(exc):
                problems.append(f"image {name}: {_first_line(exc)}")
    if loaded.new_image and not loaded.brought_in:
        _remove_if_unnamed(client, loaded.image_id)  # an archive without names
    return problems


def _remove_if_unnamed(client: docker.DockerClient, image_id: str) -> None:
    """Delete an image nothing names any more (by id, an image with one tag would lose it)."""
    import docker.errors

    try:
        if not client.images.get(image_id).tags:
            client.images.remove(image_id)
    except docker.errors.APIError:
        return  # gone already, or a container of another test still uses it


def _exists(client: docker.DockerClient, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _strategy(
    ports: Sequence[int | str],
    log: str | re.Pattern[str] | None,
    http: str | None,
    healthy: bool,
    timeout: float,
) -> WaitStrategy:
    from testcontainers.core.wait_strategies import (
        CompositeWaitStrategy,
        ContainerStatusWaitStrategy,
        HealthcheckWaitStrategy,
        HttpWaitStrategy,
        LogMessageWaitStrategy,
    )

    strategies: list[WaitStrategy] = []
    if log is not None:
        strategies.append(LogMessageWaitStrategy(log))
    if http is not None:
        port = int(str(ports[0]).split("/")[0])
        strategies.append(HttpWaitStrategy(port, "/" + http.lstrip("/")))
    if healthy:
        strategies.append(HealthcheckWaitStrategy())
    if not strategies:
        strategies.append(ContainerStatusWaitStrategy())
    chosen = strategies[0] if len(strategies) == 1 else CompositeWaitStrategy(*strategies)
    return chosen.with_startup_timeout(int(max(1, timeout))).with_poll_interval(0.2)


def _describe(log: str | re.Pattern[str] | None, http: str | None, healthy: bool) -> str:
    parts = []
    if log is not None:
        parts.append(f"log line {log.pattern if isinstance(log, re.Pattern) else log!r}")
    if http is not None:
        parts.append(f"HTTP {http}")
    if healthy:
        parts.append("healthcheck 'healthy'")
    return ", ".join(parts) or "running"


@contextlib.contextmanager
def _ryuk_left_out() -> Iterator[None]:
    from testcontainers.core.config import testcontainers_config

    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        yield
        return
    before = testcontainers_config.ryuk_disabled
    testcontainers_config.ryuk_disabled = True
    try:
        yield
    finally:
        testcontainers_config.ryuk_disabled = before


def _logs_of(container: DockerContainer) -> str:
    try:
        out, err = container.get_logs()
    except Exception as exc:  # never started, or already gone
        return f"(no log: {_first_line(exc)})"
    text = out.decode(errors="replace")
    if err:
        text += ("\n" if text and not text.endswith("\n") else "") + err.decode(errors="replace")
    return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:400] if text else type(exc).__name__
