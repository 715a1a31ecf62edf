"""The reasons recorded in docs/design/parser.md, checked against dockerfile-parse itself.

If a dockerfile-parse release fixes one of these, the matching test fails and the
design note needs a new look.
"""

from __future__ import annotations

from pathlib import Path

from dockerfile_parse import DockerfileParser

from pytest_imagebuild.builder.dockerfile import parse


def structure(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    parser = DockerfileParser(path=str(tmp_path))
    parser.content = text
    return [(item["instruction"], item["value"]) for item in parser.structure]


HEREDOC = "FROM busybox\nRUN <<EOF\necho hi\nENV X=1\nEOF\n"
BLANK_IN_CONTINUATION = "FROM busybox\nRUN echo a \\\n\n    b\n"
FLAGS_AND_EXEC = 'FROM busybox\nCOPY --from=build --chown=1:2 a /b\nCMD ["echo", "hi"]\n'


def test_heredoc_body_becomes_bogus_instructions(tmp_path: Path) -> None:
    assert structure(tmp_path, HEREDOC) == [
        ("FROM", "busybox"),
        ("RUN", "<<EOF"),
        ("ECHO", "hi"),
        ("ENV", "X=1"),
        ("EOF", ""),
    ]
    ours = parse(HEREDOC).instructions
    assert [i.keyword for i in ours] == ["FROM", "RUN"]
    assert ours[1].heredocs[0].body == "echo hi\nENV X=1\n"


def test_blank_line_ends_a_continuation(tmp_path: Path) -> None:
    assert structure(tmp_path, BLANK_IN_CONTINUATION) == [
        ("FROM", "busybox"),
        ("RUN", "echo a "),
        ("B", ""),
    ]
    assert parse(BLANK_IN_CONTINUATION).instructions[1].args == ("echo a     b",)


def test_flags_and_exec_form_are_left_as_text(tmp_path: Path) -> None:
    assert structure(tmp_path, FLAGS_AND_EXEC)[1:] == [
        ("COPY", "--from=build --chown=1:2 a /b"),
        ("CMD", '["echo", "hi"]'),
    ]
    copy, cmd = parse(FLAGS_AND_EXEC).instructions[1:]
    assert (copy.flags, copy.args) == (("--from=build", "--chown=1:2"), ("a", "/b"))
    assert (cmd.json, cmd.args) == (True, ("echo", "hi"))
