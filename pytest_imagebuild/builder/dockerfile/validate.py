"""Checks ``docker build`` makes on each parsed instruction before running anything."""

from __future__ import annotations

import difflib
import re

from pytest_imagebuild.builder.dockerfile.arguments import KEYWORDS
from pytest_imagebuild.builder.dockerfile.duration import parse_duration
from pytest_imagebuild.builder.dockerfile.flags import check_flags
from pytest_imagebuild.builder.dockerfile.model import Instruction
from pytest_imagebuild.errors import DockerfileError, Location

__all__ = ["check_instruction"]

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_AT_LEAST_ONE = ("ARG", "ENV", "EXPOSE", "LABEL", "ONBUILD", "RUN", "VOLUME", "HEALTHCHECK")
_EXACTLY_ONE = ("MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR")
_HEALTH_DURATIONS = ("interval", "timeout", "start-period", "start-interval")


def _suggest(keyword: str) -> str | None:
    matches = difflib.get_close_matches(keyword.upper(), sorted(KEYWORDS), n=3, cutoff=0.6)
    if not matches:
        return "instructions are: " + ", ".join(sorted(KEYWORDS))
    return "did you mean " + " or ".join(matches) + "?"


def check_instruction(instruction: Instruction, path: str) -> None:
    """Raise DockerfileError (with file, line and hint) when the instruction is invalid."""
    location = Location(path, instruction.start_line)
    keyword = instruction.keyword
    if keyword not in KEYWORDS:
        word = instruction.original.split(None, 1)[0] if instruction.original.strip() else ""
        raise DockerfileError(
            f"unknown instruction: {word or keyword}", location=location, hint=_suggest(word)
        )
    try:
        check_flags(keyword, instruction.flags)
        _check_shape(instruction)
    except ValueError as error:
        message = str(error)
        if not message.upper().startswith(keyword):
            message = f"{keyword}: {message}"
        raise DockerfileError(message, location=location, hint=_HINTS.get(keyword)) from None
    if instruction.inner is not None:
        check_instruction(instruction.inner, path)


_HINTS = {
    "FROM": "write FROM [--platform=P] IMAGE [AS NAME]",
    "COPY": "write COPY [flags] SOURCE... DEST",
    "ADD": "write ADD [flags] SOURCE... DEST",
    "HEALTHCHECK": "write HEALTHCHECK NONE or HEALTHCHECK [flags] CMD command",
    "ONBUILD": "write ONBUILD followed by another instruction",
    "ENV": "write ENV KEY=VALUE [KEY=VALUE...]",
    "LABEL": "write LABEL KEY=VALUE [KEY=VALUE...]",
    "SHELL": 'write SHELL ["executable", "parameters"]',
}


def _check_shape(instruction: Instruction) -> None:
    keyword, args = instruction.keyword, instruction.args
    if keyword in _AT_LEAST_ONE and not args and instruction.inner is None:
        raise ValueError(f"{keyword} requires at least one argument")
    if keyword in _EXACTLY_ONE and len(args) != 1:
        raise ValueError(f"{keyword} requires exactly one argument")
    if keyword in ("ENV", "LABEL"):
        for key, _ in instruction.pairs:
            if not key:
                raise ValueError(f"{keyword} names can not be blank")
    elif keyword == "ARG":
        for word in args:
            if not word.partition("=")[0]:
                raise ValueError("ARG names can not be blank")
    elif keyword == "FROM":
        _check_from(args)
    elif keyword in ("COPY", "ADD"):
        if len(args) < 2:
            raise ValueError(
                f"{keyword} requires at least two arguments, but only one was provided. "
                "Destination could not be determined."
            )
    elif keyword == "SHELL":
        if not instruction.json:
            raise ValueError("SHELL requires the arguments to be in JSON form")
        if not args:
            raise ValueError("SHELL requires at least one argument")
    elif keyword == "VOLUME":
        if any(not item.strip() for item in args):
            raise ValueError("VOLUME specified can not be an empty string")
    elif keyword == "HEALTHCHECK":
        _check_healthcheck(instruction)
    elif keyword == "ONBUILD":
        _check_onbuild(instruction)


def _check_from(args: tuple[str, ...]) -> None:
    if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
        raise ValueError("FROM requires either one or three arguments")
    if len(args) == 3 and not _STAGE_NAME.match(args[2].lower()):
        raise ValueError(
            f"invalid name for build stage: {args[2]!r}, "
            "name can't start with a number or contain symbols"
        )


def _check_healthcheck(instruction: Instruction) -> None:
    kind = instruction.args[0].upper()
    if kind == "NONE":
        if len(instruction.args) > 1:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        return
    if kind != "CMD":
        raise ValueError(f"Unknown type {instruction.args[0]!r} in HEALTHCHECK (try CMD)")
    if len(instruction.args) < 2 or (not instruction.json and not instruction.args[1]):
        raise ValueError("Missing command after HEALTHCHECK CMD")
    for name in _HEALTH_DURATIONS:
        value = instruction.flag(name)
        if value is None:
            continue
        nanos = parse_duration(value)
        if nanos < 0 or 0 < nanos < 1_000_000:
            raise ValueError(f"--{name} cannot be less than 1ms (got {value})")
    retries = instruction.flag("retries")
    if retries is not None:
        try:
            count = int(retries)
        except ValueError:
            raise ValueError(f"--retries expects an integer, got {retries!r}") from None
        if count < 0:
            raise ValueError("--retries cannot be negative")


def _check_onbuild(instruction: Instruction) -> None:
    inner = instruction.inner
    if inner is None:
        return
    if inner.keyword == "ONBUILD":
        raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if inner.keyword in ("FROM", "MAINTAINER"):
        raise ValueError(f"{inner.keyword} isn't allowed as an ONBUILD trigger")
