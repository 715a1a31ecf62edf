"""Per-instruction expansion: which instructions, which parts, and with which environment."""

from __future__ import annotations

import pytest

from pytest_imagebuild.builder.dockerfile import Instruction, expand_instruction, parse, parse_tree
from pytest_imagebuild.errors import DockerfileError

ENV = {"A": "old", "V": "1.2", "DIR": "/srv app", "U": "app", "PORTS": "80 443", "E": ""}


def expanded(line: str, env: dict[str, str] | None = None, escape: str = "\\") -> Instruction:
    prefix = "# escape=`\n" if escape == "`" else ""
    instruction = parse(f"{prefix}FROM scratch\n{line}\n").instructions[-1]
    return expand_instruction(instruction, ENV if env is None else env, escape=escape)


def test_env_uses_values_from_before_the_instruction() -> None:
    env = expanded('ENV A=new B=$A C="${A}-x" ${U}_HOME=/h')
    assert env.pairs == (("A", "new"), ("B", "old"), ("C", "old-x"), ("app_HOME", "/h"))


def test_env_legacy_form() -> None:
    assert expanded('ENV K "$A and more"').pairs == (("K", "old and more"),)


def test_label_arg() -> None:
    assert expanded('LABEL version="$V" "my key"=v').pairs == (("version", "1.2"), ("my key", "v"))
    assert expanded('ARG X=${V}.0 Y Z="a b"').args == ("X=1.2.0", "Y", "Z=a b")


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("WORKDIR $DIR/sub", ("/srv app/sub",)),
        ("USER ${U}:${U}", ("app:app",)),
        ("STOPSIGNAL SIG${X:-TERM}", ("SIGTERM",)),
        ("EXPOSE $PORTS 8080/udp", ("80", "443", "8080/udp")),
        ('VOLUME ["$DIR", "/b"]', ("/srv app", "/b")),
        ("VOLUME /a/$U /b", ("/a/app", "/b")),
        ('COPY ["$DIR", "/d/$U/"]', ("/srv app", "/d/app/")),
        ("ADD src-$V.tgz /opt/", ("src-1.2.tgz", "/opt/")),
    ],
)
def test_expanding_instructions(line: str, args: tuple[str, ...]) -> None:
    assert expanded(line).args == args


@pytest.mark.parametrize(
    "line",
    [
        "RUN echo $A",
        'CMD ["echo", "$A"]',
        "CMD echo $A",
        'ENTRYPOINT ["$A"]',
        'SHELL ["/bin/$A", "-c"]',
        "HEALTHCHECK CMD test $A",
        "MAINTAINER $A",
        "ONBUILD RUN echo $A",
    ],
)
def test_non_expanding_instructions(line: str) -> None:
    instruction = parse(f"FROM scratch\n{line}\n").instructions[-1]
    assert expand_instruction(instruction, ENV) == instruction


def test_from_expands_image_and_platform_not_stage_name() -> None:
    from_ = parse_tree("FROM --platform=$P base:$V AS $A\n").instructions[0]
    result = expand_instruction(from_, {"V": "3", "P": "linux/arm64"})
    assert result.args == ("base:3", "AS", "$A")
    assert result.flags == ("--platform=linux/arm64",)


def test_copy_flags_and_heredocs() -> None:
    copy = expanded('COPY --chown=$U:$U --chmod=${M:-644} --from=$A <<a <<"b" /d/\n$V\na\n$V\nb')
    assert copy.flags == ("--chown=app:app", "--chmod=644", "--from=old")
    assert copy.args == ("<<a", '<<"b"', "/d/")
    assert [h.body for h in copy.heredocs] == ["1.2\n", "$V\n"]


def test_run_mount_values_expand_except_from() -> None:
    run = expanded("RUN --mount=type=cache,target=$DIR,from=$A,id=c$V --network=$A echo $A")
    assert run.flags == ("--mount=type=cache,target=/srv app,from=$A,id=c1.2", "--network=$A")
    assert run.args == ("echo $A",)


def test_backtick_escape() -> None:
    assert expanded("WORKDIR C:\\`$A", escape="`").args == ("C:\\$A",)


def test_error_gets_location_when_path_given() -> None:
    instruction = parse("FROM scratch\nWORKDIR ${NOPE:?must be set}\n").instructions[1]
    with pytest.raises(DockerfileError) as info:
        expand_instruction(instruction, {}, path="Dockerfile")
    assert str(info.value.location) == "Dockerfile:2"
    assert "NOPE: must be set" in info.value.message
    with pytest.raises(DockerfileError) as bare:
        expand_instruction(instruction, {})
    assert bare.value.location is None


def test_volume_empty_after_expansion() -> None:
    instruction = parse("FROM scratch\nVOLUME $E\n").instructions[1]
    with pytest.raises(DockerfileError, match="empty string"):
        expand_instruction(instruction, ENV)
