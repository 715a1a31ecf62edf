"""Typed views of one instruction's arguments, for the build steps.

Call them on an instruction that went through ``parse`` (and, for the expanding
keywords, ``expand_instruction``): they assume its shape was already checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_imagebuild.builder.dockerfile.duration import parse_duration
from pytest_imagebuild.builder.dockerfile.model import Heredoc, Instruction

__all__ = [
    "ArgDecl",
    "CopySpec",
    "FromSpec",
    "HealthcheckSpec",
    "arg_decls",
    "command_line",
    "copy_spec",
    "from_spec",
    "healthcheck_spec",
]

DEFAULT_SHELL = ("/bin/sh", "-c")


@dataclass(frozen=True)
class FromSpec:
    image: str
    name: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class ArgDecl:
    name: str
    default: str | None = None


@dataclass(frozen=True)
class CopySpec:
    sources: tuple[str, ...]
    dest: str
    heredocs: tuple[Heredoc, ...] = ()
    source_stage: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None


@dataclass(frozen=True)
class HealthcheckSpec:
    """As stored in an image config: ``test`` is ``("NONE",)``, ``("CMD", ...)`` or
    ``("CMD-SHELL", command)``; durations in nanoseconds, 0 meaning Docker's default."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


def from_spec(instruction: Instruction) -> FromSpec:
    args = instruction.args
    return FromSpec(
        image=args[0],
        name=args[2].lower() if len(args) == 3 else None,
        platform=instruction.flag("platform"),
    )


def arg_decls(instruction: Instruction) -> tuple[ArgDecl, ...]:
    decls = []
    for word in instruction.args:
        name, sep, default = word.partition("=")
        decls.append(ArgDecl(name, default if sep else None))
    return tuple(decls)


def copy_spec(instruction: Instruction) -> CopySpec:
    """COPY/ADD: heredoc sources appear as their ``<<NAME`` word and in ``heredocs``."""
    unpack = instruction.flag("unpack")
    return CopySpec(
        sources=instruction.args[:-1],
        dest=instruction.args[-1],
        heredocs=instruction.heredocs,
        source_stage=instruction.flag("from"),
        chown=instruction.flag("chown"),
        chmod=instruction.flag("chmod"),
        link=instruction.has_flag("link"),
        parents=instruction.has_flag("parents"),
        excludes=instruction.flag_values("exclude"),
        checksum=instruction.flag("checksum"),
        keep_git_dir=instruction.has_flag("keep-git-dir"),
        unpack=None if unpack is None else instruction.has_flag("unpack"),
    )


def healthcheck_spec(instruction: Instruction) -> HealthcheckSpec:
    kind = instruction.args[0].upper()
    if kind == "NONE":
        return HealthcheckSpec(test=("NONE",))
    command = instruction.args[1:]
    test = ("CMD", *command) if instruction.json else ("CMD-SHELL", command[0])

    def duration(name: str) -> int:
        value = instruction.flag(name)
        return 0 if value is None else parse_duration(value)

    retries = instruction.flag("retries")
    return HealthcheckSpec(
        test=test,
        interval=duration("interval"),
        timeout=duration("timeout"),
        start_period=duration("start-period"),
        start_interval=duration("start-interval"),
        retries=0 if retries is None else int(retries),
    )


def command_line(
    instruction: Instruction, shell: tuple[str, ...] = DEFAULT_SHELL
) -> tuple[str, ...]:
    """RUN/CMD/ENTRYPOINT argv: exec form as written, shell form wrapped in ``shell``."""
    if instruction.json:
        return instruction.args
    if not instruction.args:
        return ()
    return (*shell, instruction.args[0])
