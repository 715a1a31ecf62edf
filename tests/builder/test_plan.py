"""Build plans: stages, global ARGs, FROM resolution, targets and dependencies."""

from __future__ import annotations

import pytest

from pytest_imagebuild.builder.dockerfile import parse
from pytest_imagebuild.builder.plan import make_plan
from pytest_imagebuild.errors import DockerfileError, UsageError

MULTI = """\
ARG BASE=alpine
ARG TAG=3.19
FROM ${BASE}:${TAG} AS Builder
RUN make
FROM scratch AS tools
COPY --from=builder /out /out
FROM builder AS test
RUN --mount=type=bind,from=tools,target=/t true
FROM scratch AS unused
FROM scratch
COPY --from=1 /out /x
COPY --from=registry.example/img:1 /y /y
"""


def test_stages_names_bases_and_dependencies() -> None:
    plan = make_plan(parse(MULTI))
    names = [s.name for s in plan.stages]
    assert names == ["builder", "tools", "test", "unused", None]
    assert plan.stages[0].base == "alpine:3.19"
    assert plan.stages[2].base_stage == 0
    assert plan.stages[1].deps == frozenset({0})
    assert plan.stages[2].deps == frozenset({0, 1})
    assert plan.stages[4].deps == frozenset({1})
    assert plan.stages[4].images == ("registry.example/img:1",)
    assert plan.target == 4


def test_build_args_override_global_defaults() -> None:
    plan = make_plan(parse(MULTI), build_args={"TAG": "edge"})
    assert plan.stages[0].base == "alpine:edge"
    assert plan.meta_args["TAG"] == "edge"


def test_global_arg_default_expands_earlier_args() -> None:
    plan = make_plan(parse("ARG A=x\nARG B=${A}y\nFROM img:$B\n"))
    assert plan.stages[0].base == "img:xy"


def test_target_is_case_insensitive_and_required_stages() -> None:
    plan = make_plan(parse(MULTI), target="TOOLS")
    assert plan.target == 1
    assert plan.required(skip_unused=True) == [0, 1]
    assert plan.required(skip_unused=False) == [0, 1]
    final = make_plan(parse(MULTI))
    assert final.required(skip_unused=True) == [0, 1, 4]
    assert final.required(skip_unused=False) == [0, 1, 2, 3, 4]


def test_unknown_target_lists_names() -> None:
    with pytest.raises(UsageError, match="could not be found") as info:
        make_plan(parse(MULTI), target="nope")
    assert "builder" in (info.value.hint or "")


def test_platform_flag_and_platform_args() -> None:
    plan = make_plan(
        parse("FROM --platform=$BUILDPLATFORM img AS b\nFROM --platform=linux/arm64 img\n"),
        target_platform="linux/arm64",
    )
    assert plan.stages[0].platform is not None
    assert plan.stages[0].platform.startswith("linux/")
    assert plan.stages[1].platform == "linux/arm64"
    assert plan.meta_args["TARGETARCH"] == "arm64"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN x\nFROM scratch\n", "before the first FROM"),
        ("ARG A\n", "no FROM"),
        ("FROM a AS 1bad\n", "invalid name"),
        ("FROM a AS x\nFROM b AS X\n", "duplicate stage name"),
        ("FROM $NOPE\n", "should not be blank"),
        ("FROM scratch\nCOPY --from=3 /a /b\n", "current or future"),
        ("FROM a b\n", "one or three arguments"),
    ],
)
def test_bad_plans_point_at_the_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message) as info:
        make_plan(parse(text, path="ctx/Dockerfile"))
    assert info.value.location is not None
    assert info.value.location.path == "ctx/Dockerfile"
