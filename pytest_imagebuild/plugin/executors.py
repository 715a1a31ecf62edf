"""The ``docker`` executor: ``docker build`` and ``docker save`` through the docker SDK.

Same inputs as the embedded executor (context directory, Dockerfile, build args, target,
platform), same output: a docker-archive tarball in the image cache, named
``imagebuild/<name>:<key>`` as the embedded executor names it, so the fixtures open it the
same way. The daemon's legacy builder runs the build (the SDK's ``/build`` call); its
output goes to the build log. The image is removed from the daemon once saved, with the step
images the build made (those of stages outside the target's chain would stay dangling), and
those of a failed build too.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pytest_imagebuild.errors import BuildError, DockerError, Location
from pytest_imagebuild.plugin.docker_daemon import connect
from pytest_imagebuild.plugin.sources import BuildSpec

if TYPE_CHECKING:
    import docker

__all__ = ["BUILD_TIMEOUT", "docker_build"]

BUILD_TIMEOUT = 1800
"""Seconds a build may stay silent (one RUN step with no output) before it counts as hung."""
_STEP = re.compile(r"^Step \d+/\d+ : (.*)$")
_EXIT = re.compile(r"returned a non-zero code: (\d+)")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class _Output:
    """What the legacy builder's output says: the step, the images it made, the tail."""

    step: str = ""
    made: list[str] = field(default_factory=list)
    """Step images this build created (not the FROM images, not the ones from its cache)."""
    tail: list[str] = field(default_factory=list)
    _skip_next: bool = False

    def feed(self, text: str) -> str:
        text = _ANSI.sub("", text)  # docker colours a step's stderr
        for line in text.splitlines():
            self.tail = [*self.tail[-19:], line]
            if found := _STEP.match(line):
                self.step = found.group(1)
                self._skip_next = self.step.upper().startswith("FROM ")
            elif line == " ---> Using cache":
                self._skip_next = True
            elif found := _LAYER.match(line):
                if not self._skip_next:
                    self.made.append(found.group(1))
                self._skip_next = False
        return text


def docker_build(
    spec: BuildSpec,
    build_args: Mapping[str, str | None],
    name: str,
    tarball: Path,
    log: TextIO,
) -> None:
    """Build ``spec`` on the daemon, save it as ``name`` to ``tarball``, remove it there
    with every step image the build made (stages the target does not contain included)."""
    __tracebackhide__ = True
    client = connect(timeout=BUILD_TIMEOUT)
    tag = f"imagebuild-build/{uuid.uuid4().hex[:16]}:latest"
    output = _Output()
    try:
        image_id = _build(client, spec, build_args, tag, log, output)
        client.images.get(image_id).tag(name)
        with tarball.open("wb") as out:
            for chunk in client.images.get(name).save(named=True):
                out.write(chunk)
    finally:
        for ref in (name, tag):
            _remove(client, ref)
        for made in reversed(output.made):  # children before their parents
            _remove_untagged(client, made)
        client.close()


def _build(
    client: docker.DockerClient,
    spec: BuildSpec,
    build_args: Mapping[str, str | None],
    tag: str,
    log: TextIO,
    output: _Output,
) -> str:
    __tracebackhide__ = True
    import docker.errors

    args = {key: value for key, value in build_args.items() if value is not None}
    try:
        chunks = client.api.build(
            path=str(spec.context),
            dockerfile=str(spec.dockerfile),
            buildargs=args,
            target=spec.target,
            platform=spec.platform,
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in chunks:
            log.write(output.feed(str(chunk.get("stream", ""))))
            if "error" in chunk:
                message = str(chunk["error"]).strip()
                log.write(message + "\n")
                exit_code = _EXIT.search(message)
                raise BuildError(
                    f"docker build failed: {message.splitlines()[0] if message else 'error'}",
                    location=Location(str(spec.dockerfile)),
                    instruction=output.step or None,
                    exit_code=int(exit_code.group(1)) if exit_code else None,
                    output_tail="\n".join(output.tail),
                )
    except docker.errors.DockerException as exc:
        raise DockerError(f"docker build of {spec.dockerfile}: {exc}") from None
    except OSError as exc:  # the context could not be read or sent
        raise DockerError(f"docker build of {spec.dockerfile}: {exc}") from None
    return str(client.images.get(tag).id)


def _remove(client: docker.DockerClient, ref: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        client.images.remove(ref)


def _remove_untagged(client: docker.DockerClient, image_id: str) -> None:
    """A step image of this build, when nothing names it (by id, a tagged one would go)."""
    import docker.errors

    try:
        if not client.images.get(image_id).tags:
            client.images.remove(image_id)
    except docker.errors.APIError:
        return  # gone with its child, or another build's cache now has a child on it
