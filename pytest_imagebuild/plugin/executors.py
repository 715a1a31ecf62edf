"""The ``docker`` executor: ``docker build`` and ``docker save`` through the docker SDK.

Same inputs as the embedded executor (context directory, Dockerfile, build args, target,
platform), same output: a docker-archive tarball in the image cache, named
``imagebuild/<name>:<key>`` as the embedded executor names it, so the fixtures open it the
same way. The daemon's legacy builder runs the build (the SDK's ``/build`` call); its
output goes to the build log. The image is removed from the daemon once saved, and the
intermediate images of a failed build with it.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Mapping
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


def docker_build(
    spec: BuildSpec,
    build_args: Mapping[str, str | None],
    name: str,
    tarball: Path,
    log: TextIO,
) -> None:
    """Build ``spec`` on the daemon, save it as ``name`` to ``tarball``, remove it there."""
    __tracebackhide__ = True
    client = connect(timeout=BUILD_TIMEOUT)
    tag = f"imagebuild-build/{uuid.uuid4().hex[:16]}:latest"
    try:
        image_id = _build(client, spec, build_args, tag, log)
        client.images.get(image_id).tag(name)
        try:
            with tarball.open("wb") as out:
                for chunk in client.images.get(name).save(named=True):
                    out.write(chunk)
        finally:
            for ref in (name, tag):
                _remove(client, ref)
    finally:
        client.close()


def _build(
    client: docker.DockerClient,
    spec: BuildSpec,
    build_args: Mapping[str, str | None],
    tag: str,
    log: TextIO,
) -> str:
    __tracebackhide__ = True
    import docker.errors

    args = {key: value for key, value in build_args.items() if value is not None}
    step, layer = "", ""
    tail: list[str] = []
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
            text = str(chunk.get("stream", ""))
            log.write(text)
            for line in text.splitlines():
                tail = [*tail[-19:], line]
                if found := _STEP.match(line):
                    step = found.group(1)
                elif found := _LAYER.match(line):
                    layer = found.group(1)
            if "error" in chunk:
                message = str(chunk["error"]).strip()
                log.write(message + "\n")
                _remove_untagged(client, layer)
                exit_code = _EXIT.search(message)
                raise BuildError(
                    f"docker build failed: {message.splitlines()[0] if message else 'error'}",
                    location=Location(str(spec.dockerfile)),
                    instruction=step or None,
                    exit_code=int(exit_code.group(1)) if exit_code else None,
                    output_tail="\n".join(tail),
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
    """The last step image of a failed build, when nothing names it (not the base)."""
    import docker.errors

    if not image_id:
        return
    try:
        if not client.images.get(image_id).tags:
            client.images.remove(image_id)
    except docker.errors.APIError:
        return  # in use or already gone: the daemon's own cache then
