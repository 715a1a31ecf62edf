"""Dockerfile parsing and word expansion with Docker's semantics."""

from __future__ import annotations

from pytest_imagebuild.builder.dockerfile.dump import dump, dump_instruction
from pytest_imagebuild.builder.dockerfile.expand import expand_heredoc, expand_word, split_words
from pytest_imagebuild.builder.dockerfile.model import (
    Directives,
    Dockerfile,
    Heredoc,
    Instruction,
)
from pytest_imagebuild.builder.dockerfile.parser import parse, parse_file, parse_tree
from pytest_imagebuild.builder.dockerfile.process import EXPANDING, expand_instruction
from pytest_imagebuild.builder.dockerfile.shapes import (
    ArgDecl,
    CopySpec,
    FromSpec,
    HealthcheckSpec,
    arg_decls,
    command_line,
    copy_spec,
    from_spec,
    healthcheck_spec,
)

__all__ = [
    "EXPANDING",
    "ArgDecl",
    "CopySpec",
    "Directives",
    "Dockerfile",
    "FromSpec",
    "HealthcheckSpec",
    "Heredoc",
    "Instruction",
    "arg_decls",
    "command_line",
    "copy_spec",
    "dump",
    "dump_instruction",
    "expand_heredoc",
    "expand_instruction",
    "expand_word",
    "from_spec",
    "healthcheck_spec",
    "parse",
    "parse_file",
    "parse_tree",
    "split_words",
]
