"""From a parsed Dockerfile to a build plan: stages, global ARGs, bases, target, dependencies."""

from __future__ import annotations

import platform as host_platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_imagebuild.builder.dockerfile.expand import expand_word
from pytest_imagebuild.builder.dockerfile.model import Dockerfile, Instruction
from pytest_imagebuild.errors import DockerfileError, Location, UsageError
from pytest_imagebuild.oci import Platform, machine_platform

__all__ = ["Plan", "Stage", "host_platform_string", "make_plan", "platform_args"]

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


def host_platform_string() -> str:
    return str(machine_platform(host_platform.machine()))


def platform_args(build: str, target: str) -> dict[str, str]:
    """BuildKit's predefined platform args (global scope)."""
    out: dict[str, str] = {}
    for prefix, text in (("BUILD", build), ("TARGET", target)):
        plat = Platform.parse(text)
        out[prefix + "PLATFORM"] = str(plat)
        out[prefix + "OS"] = plat.os
        out[prefix + "ARCH"] = plat.architecture
        out[prefix + "VARIANT"] = plat.variant or ""
    return out


@dataclass(frozen=True)
class Stage:
    """One FROM ... section of a Dockerfile."""

    index: int
    name: str | None
    base: str
    base_stage: int | None
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]
    deps: frozenset[int] = frozenset()
    images: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass(frozen=True)
class Plan:
    """Stages in order, the global ARG values, the target and what must be built."""

    path: str
    escape: str
    stages: tuple[Stage, ...]
    meta_args: dict[str, str | None] = field(default_factory=dict)
    target: int = -1

    def stage_for(self, ref: str, before: int) -> int | None:
        """Resolve ``--from``/``FROM`` text to an earlier stage index, else None (an image)."""
        lowered = ref.lower()
        for stage in self.stages[:before]:
            if stage.name == lowered:
                return stage.index
        if ref.isdigit():
            return int(ref)
        return None

    def required(self, *, skip_unused: bool) -> list[int]:
        """Stage indices to build: the target's ancestors, or every stage up to the target."""
        if not skip_unused:
            return list(range(self.target + 1))
        needed: set[int] = set()
        pending = [self.target]
        while pending:
            index = pending.pop()
            if index not in needed:
                needed.add(index)
                pending.extend(self.stages[index].deps)
        return sorted(needed)


def _location(path: str, instruction: Instruction) -> Location:
    return Location(path, instruction.start_line)


def _meta_arg(
    path: str,
    instruction: Instruction,
    values: dict[str, str | None],
    given: Mapping[str, str | None],
    escape: str,
) -> None:
    for word in instruction.args:
        name, sep, default = word.partition("=")
        env = {k: v for k, v in values.items() if v is not None}
        value = expand_word(default, env, escape) if sep else None
        override = given.get(name)
        values[name] = override if override is not None else value


def _mount_froms(instruction: Instruction) -> list[str]:
    froms = []
    for spec in instruction.flag_values("mount"):
        for item in spec.split(","):
            key, _, value = item.partition("=")
            if key.strip().lower() == "from" and value:
                froms.append(value.strip())
    return froms


def make_plan(
    dockerfile: Dockerfile,
    *,
    build_args: Mapping[str, str | None] | None = None,
    target: str | None = None,
    target_platform: str | None = None,
) -> Plan:
    """Split ``dockerfile`` into stages and resolve their bases; raise on bad references."""
    path, escape = dockerfile.path, dockerfile.escape
    given = dict(build_args or {})
    build_plat = host_platform_string()
    meta: dict[str, str | None] = dict(platform_args(build_plat, target_platform or build_plat))
    sections: list[tuple[Instruction, list[Instruction]]] = []
    for instruction in dockerfile.instructions:
        keyword = instruction.keyword.upper()
        if keyword == "FROM":
            sections.append((instruction, []))
        elif not sections:
            if keyword != "ARG":
                raise DockerfileError(
                    f"{keyword} before the first FROM: only ARG may come before FROM",
                    location=_location(path, instruction),
                    hint="every stage starts with FROM <image>",
                )
            _meta_arg(path, instruction, meta, given, escape)
        else:
            sections[-1][1].append(instruction)
    if not sections:
        raise DockerfileError(
            "the Dockerfile has no FROM instruction",
            location=Location(path),
            hint="start with FROM <image> or FROM scratch",
        )
    env = {k: v for k, v in meta.items() if v is not None}
    stages: list[Stage] = []
    for index, (from_instr, body) in enumerate(sections):
        stages.append(_stage(path, escape, index, from_instr, body, env, stages))
    plan = Plan(path, escape, tuple(stages), meta)
    chosen = len(stages) - 1
    if target:
        lowered = target.lower()
        matches = [s.index for s in stages if s.name == lowered]
        if not matches:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise UsageError(
                f"target stage {target!r} could not be found", hint=f"stage names: {names}"
            )
        chosen = matches[0]
    return Plan(path, escape, plan.stages, meta, chosen)


def _stage(
    path: str,
    escape: str,
    index: int,
    from_instr: Instruction,
    body: list[Instruction],
    env: Mapping[str, str],
    earlier: list[Stage],
) -> Stage:
    where = _location(path, from_instr)
    args = list(from_instr.args)
    if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
        raise DockerfileError(
            "FROM requires either one or three arguments (FROM <image> [AS <name>])",
            location=where,
        )
    name = args[2].lower() if len(args) == 3 else None
    if name is not None:
        if not _STAGE_NAME.match(name):
            raise DockerfileError(
                f"invalid name for build stage: {args[2]!r}",
                location=where,
                hint="stage names start with a letter: letters, digits, -_.",
            )
        if any(s.name == name for s in earlier):
            raise DockerfileError(f"duplicate stage name {name!r}", location=where)
    base = expand_word(args[0], env, escape)
    if not base:
        raise DockerfileError(
            "base name (FROM) should not be blank",
            location=where,
            hint=f"check the ARG used in {args[0]!r}",
        )
    plat_flag = from_instr.flag("platform")
    plat = expand_word(plat_flag, env, escape) if plat_flag else None
    base_stage = next((s.index for s in earlier if s.name == base.lower()), None)
    deps: set[int] = set() if base_stage is None else {base_stage}
    images: list[str] = []
    for instruction in body:
        keyword = instruction.keyword.upper()
        refs: list[str] = []
        if keyword in ("COPY", "ADD") and instruction.flag("from"):
            refs.append(instruction.flag("from") or "")
        if keyword == "RUN":
            refs.extend(_mount_froms(instruction))
        for ref in refs:
            found = next((s.index for s in earlier if s.name == ref.lower()), None)
            if found is None and ref.isdigit():
                found = int(ref)
                if found >= index:
                    raise DockerfileError(
                        f"invalid from flag value {ref}: refers to current or future build stage",
                        location=_location(path, instruction),
                        hint="--from names an earlier stage (by name or index) or an image",
                    )
            if found is None and name is not None and ref.lower() == name:
                raise DockerfileError(
                    f"invalid from flag value {ref}: refers to the stage it is in",
                    location=_location(path, instruction),
                    hint="a stage cannot copy or mount from itself; name an earlier stage",
                )
            if found is None:
                images.append(ref)
            else:
                deps.add(found)
    return Stage(
        index, name, base, base_stage, plat, from_instr, tuple(body), frozenset(deps), tuple(images)
    )
