"""Instructions that only change the image config: each returns its history ``created_by``."""

from __future__ import annotations

import signal
from collections.abc import Callable

from pytest_imagebuild.builder.dockerfile.duration import parse_duration
from pytest_imagebuild.builder.dockerfile.expand import split_words

from .base import Where
from .history import go_duration, go_list, go_quote_list, go_quote_rune, nop
from .state import StageState, set_env

__all__ = ["METADATA", "apply_metadata", "resolve_cmdline"]


def resolve_cmdline(where: Where, state: StageState) -> list[str]:
    """Exec form as is; shell form as the stage's SHELL plus the command line."""
    args = list(where.instruction.args)
    if where.instruction.json:
        return args
    return [*state.shell, " ".join(args)] if args else []


def _pairs(where: Where, state: StageState) -> list[tuple[str, str]]:
    env = state.expansion_env()
    pairs = where.instruction.pairs
    if not pairs:
        raise where.error("needs at least one key=value argument")
    return [(where.expand(k, env), where.expand(v, env)) for k, v in pairs]


def env(where: Where, state: StageState) -> str:
    pairs = _pairs(where, state)
    for key, value in pairs:
        if not key:
            raise where.error("ENV names can not be blank")
        set_env(state.env, key, value)
    return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)


def label(where: Where, state: StageState) -> str:
    pairs = _pairs(where, state)
    labels = dict(state.config.get("Labels") or {})
    for key, value in pairs:
        if not key:
            raise where.error("LABEL names can not be blank")
        labels[key] = value
    state.config["Labels"] = labels
    return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)


def _port_specs(where: Where, word: str) -> list[str]:
    spec = word.rsplit(":", 1)[-1]
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    start, _, end = port.partition("-")
    if not start.isdigit() or (end and not end.isdigit()):
        raise where.error(f"invalid containerPort: {port}")
    first, last = int(start), int(end or start)
    if last < first or last > 65535:
        raise where.error(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def expose(where: Where, state: StageState) -> str:
    env = state.expansion_env()
    ports: list[str] = []
    for word in sorted(where.instruction.args):
        ports.extend(split_words(word, env, where.escape))
    exposed = dict(state.config.get("ExposedPorts") or {})
    for port in ports:
        for spec in _port_specs(where, port):
            exposed[spec] = {}
    state.config["ExposedPorts"] = exposed
    return "EXPOSE " + " ".join(ports)


def volume(where: Where, state: StageState) -> str:
    env = state.expansion_env()
    volumes = [where.expand(v, env) for v in where.instruction.args]
    if not volumes:
        raise where.error("VOLUME requires at least one argument")
    current = dict(state.config.get("Volumes") or {})
    for path in volumes:
        if not path.strip():
            raise where.error("VOLUME specified can not be an empty string")
        current[path] = {}
    state.config["Volumes"] = current
    return "VOLUME " + go_list(volumes)


def cmd(where: Where, state: StageState) -> str:
    line = resolve_cmdline(where, state)
    state.config["Cmd"] = line
    if where.instruction.args:
        state.cmd_set = True
    return "CMD " + go_quote_list(line)


def entrypoint(where: Where, state: StageState) -> str:
    line = resolve_cmdline(where, state)
    state.config["Entrypoint"] = line
    if not state.cmd_set:
        state.config["Cmd"] = None
    return "ENTRYPOINT " + go_quote_list(line)


_HEALTH_FLAGS = ("interval", "timeout", "start-period", "start-interval")


def healthcheck(where: Where, state: StageState) -> str:
    instr = where.instruction
    if not instr.args:
        raise where.error("HEALTHCHECK requires an argument (CMD or NONE)")
    kind = instr.args[0].upper()
    rest = list(instr.args[1:])
    check: dict[str, object]
    if kind == "NONE":
        if rest or instr.flags:
            raise where.error("HEALTHCHECK NONE takes no arguments or flags")
        check = {"Test": ["NONE"]}
    elif kind == "CMD":
        if not rest:
            raise where.error("HEALTHCHECK CMD needs a command")
        test = ["CMD", *rest] if instr.json else ["CMD-SHELL", " ".join(rest)]
        check = {"Test": test}
        for flag in _HEALTH_FLAGS:
            value = instr.flag(flag)
            if value:
                try:
                    ns = parse_duration(value)
                except ValueError as exc:
                    raise where.error(f"--{flag}: {exc}") from exc
                if 0 < ns < 1_000_000 or ns < 0:
                    raise where.error(f"--{flag} cannot be less than 1ms")
                check["".join(p.title() for p in flag.split("-"))] = ns
        retries = instr.flag("retries")
        if retries:
            if not retries.lstrip("-").isdigit() or int(retries) < 0:
                raise where.error("--retries cannot be negative")
            if int(retries):
                check["Retries"] = int(retries)
    else:
        raise where.error(f"unknown type {instr.args[0]!r} in HEALTHCHECK (try CMD)")
    state.config["Healthcheck"] = check
    return "HEALTHCHECK " + _health_text(check)


def _health_text(check: dict[str, object]) -> str:
    test = check.get("Test")
    parts = [go_quote_list(test if isinstance(test, list) else [])]
    names = ["Interval", "Timeout", "StartPeriod"]
    if check.get("StartInterval"):
        names.append("StartInterval")
    for name in names:
        value = check.get(name, 0)
        parts.append('"' + go_duration(value if isinstance(value, int) else 0) + '"')
    retries = check.get("Retries", 0)
    parts.append(go_quote_rune(retries if isinstance(retries, int) else 0))
    return "&{" + " ".join(parts) + "}"


def stopsignal(where: Where, state: StageState) -> str:
    if not where.instruction.args:
        raise where.error("STOPSIGNAL requires exactly one argument")
    sig = where.expand(where.instruction.args[0], state.expansion_env())
    name = sig.upper().removeprefix("SIG")
    if not (sig.isdigit() or ("SIG" + name) in signal.Signals.__members__ or name.startswith("RT")):
        raise where.error(f"invalid signal: {sig}")
    state.config["StopSignal"] = sig
    return "STOPSIGNAL " + sig


def shell(where: Where, state: StageState) -> str:
    if not where.instruction.json or not where.instruction.args:
        raise where.error("SHELL requires the arguments to be in JSON form")
    state.config["Shell"] = list(where.instruction.args)
    return "SHELL " + go_list(state.config["Shell"])


def user(where: Where, state: StageState) -> str:
    if not where.instruction.args:
        raise where.error("USER requires exactly one argument")
    name = where.expand(where.instruction.args[0], state.expansion_env())
    state.config["User"] = name
    return "USER " + name


def onbuild(where: Where, state: StageState) -> str:
    inner = where.instruction.inner
    if inner is None:
        raise where.error("ONBUILD requires at least one argument")
    if inner.keyword.upper() in ("ONBUILD", "FROM", "MAINTAINER"):
        raise where.error(f"{inner.keyword.upper()} isn't allowed as an ONBUILD trigger")
    trigger = inner.original.strip()
    state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), trigger]
    return "ONBUILD " + trigger


def maintainer(where: Where, state: StageState) -> str:
    text = " ".join(where.instruction.args)
    state.author = text
    return "MAINTAINER " + text


def arg(where: Where, state: StageState) -> str:
    env = state.expansion_env()
    parts: list[str] = []
    for word in where.instruction.args:
        name, sep, default = word.partition("=")
        value = where.expand(default, env) if sep else None
        state.declare_arg(name, value)
        parts.append(f"{name}={value}" if value is not None else name)
        env = state.expansion_env()
    if not parts:
        raise where.error("ARG requires at least one argument")
    return "ARG " + " ".join(parts)


METADATA: dict[str, Callable[[Where, StageState], str]] = {
    "ARG": arg,
    "CMD": cmd,
    "ENTRYPOINT": entrypoint,
    "ENV": env,
    "EXPOSE": expose,
    "HEALTHCHECK": healthcheck,
    "LABEL": label,
    "MAINTAINER": maintainer,
    "ONBUILD": onbuild,
    "SHELL": shell,
    "STOPSIGNAL": stopsignal,
    "USER": user,
    "VOLUME": volume,
}


def apply_metadata(where: Where, state: StageState) -> str:
    """Run a metadata instruction; returns the full ``created_by`` (with the nop prefix)."""
    text = METADATA[where.keyword](where, state)
    return nop(state.shell, text)
