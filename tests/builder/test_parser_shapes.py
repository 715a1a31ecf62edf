"""Typed views of instruction arguments used by the build steps."""

from __future__ import annotations

import pytest

from pytest_imagebuild.builder.dockerfile import (
    ArgDecl,
    FromSpec,
    HealthcheckSpec,
    Instruction,
    arg_decls,
    command_line,
    copy_spec,
    expand_instruction,
    from_spec,
    healthcheck_spec,
    parse,
)
from pytest_imagebuild.builder.dockerfile.duration import parse_duration


def last(text: str) -> Instruction:
    return parse("FROM scratch\n" + text + "\n").instructions[-1]


def test_from_spec() -> None:
    df = parse("FROM --platform=linux/arm64 img:1 AS Build\nFROM img\n")
    assert from_spec(df.instructions[0]) == FromSpec("img:1", "build", "linux/arm64")
    assert from_spec(df.instructions[1]) == FromSpec("img")


def test_arg_decls_after_expansion() -> None:
    arg = expand_instruction(last('ARG A B=2 C="x y"'), {})
    assert arg_decls(arg) == (ArgDecl("A"), ArgDecl("B", "2"), ArgDecl("C", "x y"))


def test_copy_spec() -> None:
    spec = copy_spec(
        last("COPY --from=b --chown=1:2 --chmod=755 --link --exclude=a --exclude=b x y /d/")
    )
    assert spec.sources == ("x", "y")
    assert spec.dest == "/d/"
    assert (spec.source_stage, spec.chown, spec.chmod) == ("b", "1:2", "755")
    assert spec.link
    assert not spec.parents
    assert spec.excludes == ("a", "b")
    add = copy_spec(last("ADD --keep-git-dir --checksum=sha256:ab https://x/y.git /src"))
    assert add.keep_git_dir
    assert add.checksum == "sha256:ab"
    assert add.unpack is None
    heredoc = copy_spec(last("COPY <<EOF /f\nhi\nEOF"))
    assert heredoc.sources == ("<<EOF",)
    assert heredoc.heredocs[0].body == "hi\n"


def test_healthcheck_spec() -> None:
    spec = healthcheck_spec(
        last(
            "HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=100ms "
            "--start-interval=2s --retries=3 CMD curl -f http://x/"
        )
    )
    assert spec == HealthcheckSpec(
        test=("CMD-SHELL", "curl -f http://x/"),
        interval=90_000_000_000,
        timeout=1_500_000_000,
        start_period=100_000_000,
        start_interval=2_000_000_000,
        retries=3,
    )
    assert healthcheck_spec(last('HEALTHCHECK CMD ["true", "x"]')).test == ("CMD", "true", "x")
    assert healthcheck_spec(last("HEALTHCHECK NONE")) == HealthcheckSpec(test=("NONE",))


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("1h", 3_600_000_000_000),
        ("2m3s", 123_000_000_000),
        ("1.1s", 1_100_000_000),
        ("10us", 10_000),
        ("5ns", 5),
    ],
)
def test_durations(text: str, nanos: int) -> None:
    assert parse_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "1", "s", "1x", "1.s.", "--1s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_command_line() -> None:
    assert command_line(last('CMD ["a", "b"]')) == ("a", "b")
    assert command_line(last("RUN echo $HOME")) == ("/bin/sh", "-c", "echo $HOME")
    assert command_line(last("RUN x"), ("bash", "-lc")) == ("bash", "-lc", "x")
