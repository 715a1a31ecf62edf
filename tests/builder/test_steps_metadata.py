"""Metadata instructions: config changes and docker's exact history strings."""

from __future__ import annotations

import pytest

from pytest_imagebuild.builder.dockerfile import parse
from pytest_imagebuild.builder.steps.base import Where
from pytest_imagebuild.builder.steps.history import go_duration, go_quote_rune
from pytest_imagebuild.builder.steps.metadata import apply_metadata
from pytest_imagebuild.builder.steps.state import StageState
from pytest_imagebuild.errors import DockerfileError


def run(lines: str, state: StageState | None = None) -> tuple[StageState, list[str]]:
    state = state or StageState.from_image_config(None, build_args={"B": "2", "C": "3"})
    history = []
    for instruction in parse("FROM scratch\n" + lines).instructions[1:]:
        history.append(apply_metadata(Where(instruction), state))
    return state, history


# Expected strings were produced by docker 20.10's legacy builder for the same lines.
def test_history_strings_match_docker() -> None:
    state, history = run(
        'ARG A=1\nARG B\nENV X=1 Y="two words"\nLABEL l1=v1 "l 2"=v2\n'
        'EXPOSE 80 443/udp 80/tcp\nVOLUME /data ["/v2"]\nUSER nobody:nogroup\n'
        "HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost\nSTOPSIGNAL SIGKILL\n"
        'ONBUILD RUN echo onb\nMAINTAINER me <me@x>\nSHELL ["/bin/sh","-ec"]\nENV Z=3\n'
        'CMD ["sh"]\nENTRYPOINT /bin/echo\n'
    )
    assert history == [
        "/bin/sh -c #(nop)  ARG A=1",
        "/bin/sh -c #(nop)  ARG B",
        "/bin/sh -c #(nop)  ENV X=1 Y=two words",
        "/bin/sh -c #(nop)  LABEL l1=v1 l 2=v2",
        "/bin/sh -c #(nop)  EXPOSE 443/udp 80 80/tcp",
        "/bin/sh -c #(nop)  VOLUME [/data [/v2]]",
        "/bin/sh -c #(nop)  USER nobody:nogroup",
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost"] "5s" "0s" "0s" '
        "'\\x03'}",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGKILL",
        "/bin/sh -c #(nop)  ONBUILD RUN echo onb",
        "/bin/sh -c #(nop)  MAINTAINER me <me@x>",
        "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]",
        "/bin/sh -ec #(nop)  ENV Z=3",
        '/bin/sh -ec #(nop)  CMD ["sh"]',
        '/bin/sh -ec #(nop)  ENTRYPOINT ["/bin/sh" "-ec" "/bin/echo"]',
    ]
    config = state.config
    assert config["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "X=1",
        "Y=two words",
        "Z=3",
    ]
    assert config["ExposedPorts"] == {"443/udp": {}, "80/tcp": {}}
    assert config["Volumes"] == {"/data": {}, "[/v2]": {}}
    assert config["Labels"] == {"l1": "v1", "l 2": "v2"}
    assert config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q localhost"],
        "Interval": 5_000_000_000,
        "Retries": 3,
    }
    assert config["OnBuild"] == ["RUN echo onb"]
    assert config["Entrypoint"] == ["/bin/sh", "-ec", "/bin/echo"]
    assert config["Cmd"] == ["sh"]
    assert state.author == "me <me@x>"
    assert state.history_args() == ["A=1", "B=2"]


def test_env_uses_values_from_before_the_instruction() -> None:
    state, _ = run("ENV abc=hi\nENV abc=bye def=$abc\n")
    assert "def=hi" in state.env
    assert "abc=bye" in state.env


def test_env_overrides_arg_and_build_arg_overrides_default() -> None:
    state, _ = run("ARG B=default\nARG V=x\nENV V=env\nLABEL b=$B v=$V\n")
    assert state.config["Labels"] == {"b": "2", "v": "env"}
    assert state.run_args() == {"B": "2"}


def test_undeclared_build_args_are_invisible() -> None:
    state, _ = run("LABEL c=${C:-unset}\n")
    assert state.config["Labels"] == {"c": "unset"}


def test_global_arg_redeclared_takes_global_value() -> None:
    state = StageState.from_image_config(None, meta_args={"V": "1.2"})
    state, history = run("ARG V\nLABEL v=$V\n", state)
    assert state.config["Labels"] == {"v": "1.2"}
    assert history[0] == "/bin/sh -c #(nop)  ARG V"


def test_proxy_args_reach_run_but_not_history() -> None:
    state = StageState.from_image_config(None, build_args={"http_proxy": "http://p:3128"})
    assert state.run_args() == {"http_proxy": "http://p:3128"}
    assert state.history_args() == []


def test_entrypoint_clears_inherited_cmd_unless_cmd_set_in_stage() -> None:
    base = StageState.from_image_config({"config": {"Cmd": ["base"]}})
    state, _ = run('ENTRYPOINT ["e"]\n', base)
    assert state.config["Cmd"] is None
    state2, _ = run('CMD ["c"]\nENTRYPOINT ["e"]\n')
    assert state2.config["Cmd"] == ["c"]


def test_healthcheck_none_and_exec_form() -> None:
    state, history = run("HEALTHCHECK NONE\n")
    assert state.config["Healthcheck"] == {"Test": ["NONE"]}
    assert history[0].endswith('HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}')
    state, _ = run('HEALTHCHECK --timeout=1m30s --start-period=500ms CMD ["a", "b"]\n')
    assert state.config["Healthcheck"]["Test"] == ["CMD", "a", "b"]
    assert state.config["Healthcheck"]["Timeout"] == 90_000_000_000
    assert state.config["Healthcheck"]["StartPeriod"] == 500_000_000


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("SHELL /bin/bash -c\n", "JSON"),
        ("STOPSIGNAL SIGNOPE\n", "invalid signal"),
        ("EXPOSE http\n", "invalid containerPort"),
        ("VOLUME ${EMPTY}\n", "empty string"),
        ("HEALTHCHECK --interval=1ns CMD x\n", "less than 1ms"),
    ],
)
def test_invalid_metadata(lines: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message) as info:
        run(lines)
    assert info.value.location is not None
    assert info.value.location.line == 2


def test_expose_ranges_and_variables() -> None:
    state, history = run('ARG P="8000-8002 9/udp"\nEXPOSE $P\n')
    assert sorted(state.config["ExposedPorts"]) == ["8000/tcp", "8001/tcp", "8002/tcp", "9/udp"]
    assert history[1].endswith("EXPOSE 8000-8002 9/udp")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (5 * 10**9, "5s"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (500_000_000, "500ms"),
        (1500, "1.5µs"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_go_quote_rune() -> None:
    assert go_quote_rune(3) == "'\\x03'"
    assert go_quote_rune(10) == "'\\n'"
    assert go_quote_rune(65) == "'A'"
