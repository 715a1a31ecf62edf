"""Expanding an instruction's arguments the way ``docker build`` does, per keyword.

The builder expands ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
WORKDIR, ARG defaults and the values of ``RUN --mount``. RUN, CMD, ENTRYPOINT, SHELL
and HEALTHCHECK are left to the shell (exec form is never expanded); an ONBUILD
trigger is expanded when it runs in the child image, not here. Every word of one
instruction sees the same environment: ``ENV a=x b=$a`` gives ``b`` the old ``a``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

from pytest_imagebuild.builder.dockerfile.expand import expand_heredoc, expand_word, split_words
from pytest_imagebuild.builder.dockerfile.model import Instruction
from pytest_imagebuild.errors import DockerfileError, Location

__all__ = ["EXPANDING", "expand_instruction"]

EXPANDING = frozenset(
    [
        "ADD",
        "ARG",
        "COPY",
        "ENV",
        "EXPOSE",
        "FROM",
        "LABEL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
        "RUN",
    ]
)
_SINGLE = ("STOPSIGNAL", "USER", "WORKDIR")
_COPY_FLAGS = {
    "ADD": ("chown", "chmod", "checksum", "exclude"),
    "COPY": ("chown", "chmod", "from", "exclude"),
    "FROM": ("platform",),
}
_HEREDOC_WORD = re.compile(r"^\d*<<-?[^<]+$")


def expand_instruction(
    instruction: Instruction,
    env: Mapping[str, str],
    *,
    escape: str = "\\",
    path: str | None = None,
) -> Instruction:
    """Return ``instruction`` with its arguments expanded against ``env``.

    With ``path`` an expansion error carries the file and the instruction's line.
    """
    try:
        return _expand(instruction, env, escape)
    except DockerfileError as error:
        if path is None:
            raise
        raise DockerfileError(
            error.message, location=Location(path, instruction.start_line), hint=error.hint
        ) from None


def _expand(instruction: Instruction, env: Mapping[str, str], escape: str) -> Instruction:
    keyword, args = instruction.keyword, instruction.args

    def word(text: str) -> str:
        return expand_word(text, env, escape)

    new_args = args
    flags = instruction.flags
    heredocs = instruction.heredocs
    if keyword in ("ENV", "LABEL"):
        new_args = tuple(word(item) for item in args)
    elif keyword == "ARG":
        new_args = tuple(_expand_arg(item, word) for item in args)
    elif keyword == "EXPOSE":
        new_args = tuple(part for item in args for part in split_words(item, env, escape))
    elif keyword == "FROM":
        new_args = (word(args[0]), *args[1:]) if args else args
    elif keyword in _SINGLE:
        new_args = tuple(word(item) for item in args)
    elif keyword == "VOLUME":
        new_args = tuple(word(item) for item in args)
        if any(not item.strip() for item in new_args):
            raise DockerfileError("VOLUME specified can not be an empty string")
    elif keyword in ("COPY", "ADD"):
        new_args = tuple(
            item if instruction.heredocs and _HEREDOC_WORD.match(item) else word(item)
            for item in args
        )
        heredocs = tuple(
            dataclasses.replace(doc, body=expand_heredoc(doc.body, env)) if doc.expand else doc
            for doc in instruction.heredocs
        )
    if keyword in _COPY_FLAGS:
        flags = tuple(_expand_flag(flag, _COPY_FLAGS[keyword], word) for flag in flags)
    elif keyword == "RUN":
        flags = tuple(_expand_mount(flag, word) for flag in flags)
    return dataclasses.replace(instruction, args=new_args, flags=flags, heredocs=heredocs)


def _expand_arg(item: str, word: Callable[[str], str]) -> str:
    key, sep, value = item.partition("=")
    return word(key) + (sep + word(value) if sep else "")


def _expand_flag(flag: str, names: tuple[str, ...], word: Callable[[str], str]) -> str:
    name, sep, value = flag[2:].partition("=")
    if name not in names or not sep:
        return flag
    return f"--{name}={word(value)}"


def _expand_mount(flag: str, word: Callable[[str], str]) -> str:
    """``--mount=type=cache,target=$DIR``: every value but ``from`` is expanded."""
    name, sep, value = flag[2:].partition("=")
    if name != "mount" or not sep:
        return flag
    fields = []
    for field in value.split(","):
        key, eq, val = field.partition("=")
        if eq and key.strip().lower() != "from":
            field = f"{key}={word(val)}"
        fields.append(field)
    return "--mount=" + ",".join(fields)
