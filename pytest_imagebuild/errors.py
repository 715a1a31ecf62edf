"""One error tree for the whole project.

Every error carries a message, an optional location (a file and a line) and an
optional hint that says what to do; ``str(error)`` renders all three.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BuildError",
    "ContextError",
    "DockerfileError",
    "ImageBuildError",
    "ImageFormatError",
    "Location",
    "RegistryError",
    "SandboxError",
    "UsageError",
]


@dataclass(frozen=True)
class Location:
    """Where an error points: a file and, when known, a 1-based line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


class ImageBuildError(Exception):
    """Base of every error pytest-imagebuild raises."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ImageFormatError(ImageBuildError):
    """An image tarball, layout or blob is malformed, truncated or hostile."""


class DockerfileError(ImageBuildError):
    """A Dockerfile does not parse, or an instruction is invalid."""


class ContextError(ImageBuildError):
    """The build context is missing, unreadable or a path escapes it."""


class RegistryError(ImageBuildError):
    """A registry is unreachable, refuses credentials or lacks a blob.

    ``registry``, ``repository``, ``operation`` (e.g. ``PUT manifest``) and ``status`` (the
    last HTTP status, None for a network failure) say where it failed, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        registry: str | None = None,
        repository: str | None = None,
        operation: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.registry = registry
        self.repository = repository
        self.operation = operation
        self.status = status


class SandboxError(ImageBuildError):
    """No sandbox mode can run RUN instructions on this machine."""


class UsageError(ImageBuildError):
    """Command-line or fixture arguments are wrong."""


class BuildError(ImageBuildError):
    """A build step failed: carries the instruction, command, exit code and output tail."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        instruction: str | None = None,
        exit_code: int | None = None,
        output_tail: str = "",
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.instruction = instruction
        self.exit_code = exit_code
        self.output_tail = output_tail

    def __str__(self) -> str:
        text = super().__str__()
        if self.instruction:
            text += f"\n  instruction: {self.instruction}"
        if self.exit_code is not None:
            text += f"\n  exit code: {self.exit_code}"
        if self.output_tail:
            tail = "\n".join("    " + line for line in self.output_tail.splitlines())
            text += f"\n  output (last lines):\n{tail}"
        return text


class DockerError(ImageBuildError):
    """The docker extra is not installed, or no docker daemon answers where it was looked for."""


class ContainerError(ImageBuildError):
    """A started container exited, or did not become ready in time; carries its logs."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        logs: str = "",
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.logs = logs

    def __str__(self) -> str:
        text = super().__str__()
        if self.logs:
            tail = "\n".join("    " + line for line in self.logs.splitlines()[-20:])
            text += f"\n  container log (last lines):\n{tail}"
        return text


class ParityError(ImageBuildError):
    """Two executors built different images from the same Dockerfile and context."""
