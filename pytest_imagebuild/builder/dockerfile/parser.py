"""The Dockerfile parser: physical lines -> logical lines -> instructions.

``parse_tree`` gives Docker's parse tree (any flag accepted, unknown keywords kept);
``parse`` also checks every instruction the way ``docker build`` does before running.
"""

from __future__ import annotations

from pathlib import Path

from pytest_imagebuild.builder.dockerfile.arguments import Node, node_from_line
from pytest_imagebuild.builder.dockerfile.directives import DirectiveReader
from pytest_imagebuild.builder.dockerfile.heredoc import HEREDOC_KEYWORDS, chomp, heredocs_in_line
from pytest_imagebuild.builder.dockerfile.lines import (
    continuation_pattern,
    is_blank,
    is_comment,
    split_lines,
    strip_continuation,
    trim_left,
    trim_newline,
)
from pytest_imagebuild.builder.dockerfile.model import Dockerfile, Heredoc, Instruction
from pytest_imagebuild.builder.dockerfile.validate import check_instruction
from pytest_imagebuild.errors import DockerfileError, Location

__all__ = ["parse", "parse_file", "parse_tree"]


_PARSE_HINTS = {
    "ENV": "write ENV KEY=VALUE (or the old form ENV KEY VALUE)",
    "LABEL": "write LABEL KEY=VALUE (or the old form LABEL KEY VALUE)",
}


def _decode(source: str | bytes) -> str:
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="surrogateescape")
    return source.removeprefix("\ufeff")


def _can_hold_heredoc(node: Node) -> bool:
    if node.keyword == "ONBUILD" and node.inner is not None:
        node = node.inner
    return node.keyword in HEREDOC_KEYWORDS and not node.json


def _instruction(
    node: Node, start: int, end: int, heredocs: tuple[Heredoc, ...] = ()
) -> Instruction:
    inner = _instruction(node.inner, start, end) if node.inner is not None else None
    return Instruction(
        keyword=node.keyword,
        original=node.original,
        start_line=start,
        end_line=end,
        flags=node.flags,
        args=node.args,
        json=node.json,
        heredocs=heredocs,
        inner=inner,
        legacy_form=node.legacy_form,
    )


def parse_tree(source: str | bytes, *, path: str = "Dockerfile") -> Dockerfile:
    """Parse into instructions without checking flags or argument counts (Docker's parser)."""
    lines = split_lines(_decode(source))
    reader = DirectiveReader()
    instructions: list[Instruction] = []
    warnings: list[str] = []
    total = len(lines)
    index = 0

    def fail(message: str, line: int, hint: str | None = None) -> DockerfileError:
        return DockerfileError(message, location=Location(path, max(line, 1)), hint=hint)

    while index < total:
        raw = lines[index]
        index += 1
        text = trim_left(trim_newline(raw))
        try:
            reader.feed(text)
        except ValueError as error:
            raise fail(str(error), index) from None
        if text.startswith("#"):
            text = ""
        start = index
        pattern = continuation_pattern(reader.escape)
        text, continues = strip_continuation(text, pattern)
        if not continues and not text:
            continue
        parts = [text]
        empty_continuation = False
        while continues and index < total:
            raw = lines[index]
            index += 1
            if is_comment(raw):
                continue
            if is_blank(raw):
                empty_continuation = True
                continue
            text, continues = strip_continuation(trim_newline(raw), pattern)
            parts.append(text)
        line = "".join(parts)
        if empty_continuation:
            warnings.append(f"{path}:{index}: empty continuation line found in: {line}")
        try:
            node = node_from_line(line, reader.escape)
            starts = heredocs_in_line(line) if _can_hold_heredoc(node) else []
        except ValueError as error:
            raise fail(
                str(error), start, _PARSE_HINTS.get(line.split(None, 1)[0].upper())
            ) from None
        heredocs: list[Heredoc] = []
        for heredoc in starts:
            body: list[str] = []
            while True:
                if index >= total:
                    raise fail(
                        "unterminated heredoc",
                        start,
                        hint=f"end the here-document with a line holding only {heredoc.name}",
                    )
                raw = lines[index]
                index += 1
                candidate = trim_newline(raw)
                if heredoc.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == heredoc.name:
                    break
                body.append(raw)
            content = "".join(body)
            heredocs.append(
                Heredoc(
                    name=heredoc.name,
                    body=chomp(content) if heredoc.chomp else content,
                    expand=heredoc.expand,
                    chomp=heredoc.chomp,
                    fd=heredoc.fd,
                )
            )
        instructions.append(_instruction(node, start, index, tuple(heredocs)))
    if not instructions:
        raise fail(
            "file with no instructions",
            total,
            hint="a Dockerfile needs at least a FROM instruction",
        )
    return Dockerfile(
        path=path,
        instructions=tuple(instructions),
        directives=reader.result(),
        warnings=tuple(warnings),
    )


def parse(source: str | bytes, *, path: str = "Dockerfile") -> Dockerfile:
    """Parse and check a Dockerfile; errors are DockerfileError with file and line."""
    dockerfile = parse_tree(source, path=path)
    for instruction in dockerfile.instructions:
        check_instruction(instruction, path)
    return dockerfile


def parse_file(path: str | Path) -> Dockerfile:
    """Read and parse a Dockerfile from disk."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as error:
        raise DockerfileError(
            f"cannot read Dockerfile: {error.strerror or error}", location=Location(str(file))
        ) from None
    return parse(data, path=str(file))
