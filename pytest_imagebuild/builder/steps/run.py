"""RUN: the command line, its environment and user, ``--mount``s, executed in the sandbox."""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pytest_imagebuild.builder import sandbox, userns
from pytest_imagebuild.builder.context import BuildContext
from pytest_imagebuild.builder.fs import owners
from pytest_imagebuild.errors import BuildError, SandboxError

from .base import Where
from .cachemount import CacheRequest, cache_request, hold_caches
from .copyfs import Copier, Ownership
from .mountsource import context_view, resolve_source
from .sshagent import SocketProxy
from .state import StageState
from .users import resolve_user

__all__ = ["RunServices", "run_argv", "run_step"]

_TAIL_LINES = 20


@dataclass
class RunServices:
    """What RUN needs besides the stage: cache and secret dirs, stage roots for ``from=``."""

    work_dir: Path
    cache_dir: Path  # where ``--mount=type=cache`` directories persist (``CacheMounts``)
    context_root: Path
    context: BuildContext | None = None  # its .dockerignore hides files from bind mounts too
    secrets: dict[str, Path] = field(default_factory=dict)
    ssh: dict[str, Path] = field(default_factory=dict)  # --ssh id -> agent socket
    from_root: Callable[[str], Path] | None = None
    log: Callable[[str], None] | None = None
    from_context: Callable[[str], BuildContext | None] | None = None  # --build-context dirs
    # root-relative paths the chroot mode moved aside and put back: only their ctime moved
    restored: list[str] = field(default_factory=list)


def run_argv(where: Where, state: StageState, scripts: Path) -> tuple[list[str], list[str]]:
    """(argv to execute, argv docker records in history)."""
    instr = where.instruction
    args = list(instr.args)
    if instr.json:
        return args, args
    if instr.heredocs:
        doc = instr.heredocs[0]
        if len(args) == 1 and args[0].lstrip("0123456789").startswith("<<"):
            if doc.body.startswith("#!"):
                scripts.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha256(doc.body.encode()).hexdigest()[:16]
                (scripts / name).write_text(doc.body)
                os.chmod(scripts / name, 0o755)  # noqa: S103 - an executable script
                return ["/dev/pipes/" + name], [*state.shell, doc.body]
            return [*state.shell, doc.body], [*state.shell, doc.body]
        full = args[0]
        for item in instr.heredocs:
            full += "\n" + item.body + item.name
        return [*state.shell, full], [*state.shell, full]
    line = " ".join(args)
    return [*state.shell, line], [*state.shell, line]


@dataclass
class _Mounts:
    """The mounts of one RUN and the cache directories they use."""

    mounts: list[sandbox.Mount] = field(default_factory=list)
    # (index in ``mounts``, request): directories taken by ``hold_caches``
    caches: list[tuple[int, CacheRequest]] = field(default_factory=list)
    # agent sockets of ``type=ssh`` mounts, closed when the command ends
    proxies: list[SocketProxy] = field(default_factory=list)
    # secrets given as environment variables (``env=``): only the command sees them
    env: dict[str, str] = field(default_factory=dict)


def _secret(source: Path, opts: dict[str, str], staged: Path) -> Path:
    """A copy of the secret owned and moded as BuildKit shows it (0:0, 0400 by default)."""
    shutil.copyfile(source, staged)
    owners.chown(str(staged), int(opts.get("uid", "0")), int(opts.get("gid", "0")), fresh=True)
    os.chmod(staged, int(opts.get("mode", "0400"), 8))
    return staged


def _mounts(where: Where, state: StageState, services: RunServices, scratch: Path) -> _Mounts:
    found = _Mounts()
    try:
        _add_mounts(where, state, services, scratch, found)
    except BaseException:
        for proxy in found.proxies:
            proxy.close()
        raise
    return found


def _add_mounts(
    where: Where, state: StageState, services: RunServices, scratch: Path, found: _Mounts
) -> None:
    mounts = found.mounts
    env = state.expansion_env()
    for spec in where.instruction.flag_values("mount"):
        opts: dict[str, str] = {}
        for item in spec.split(","):
            key, sep, value = item.partition("=")
            opts[key.strip().lower()] = where.expand(value.strip(), env) if sep else "true"
        kind = opts.get("type", "bind")
        target = opts.get("target") or opts.get("dst") or opts.get("destination") or ""
        if kind == "secret":
            ident = opts.get("id") or posixpath.basename(target)
            secret = services.secrets.get(ident)
            if secret is None:
                if opts.get("required", "false").lower() == "true":
                    raise where.error(f"secret {ident!r} is required but was not provided")
                continue
            name = opts.get("env")
            if name:
                try:
                    found.env[name] = secret.read_text(encoding="utf-8", errors="surrogateescape")
                except OSError as error:
                    raise where.error(f"cannot provide secret {ident!r}: {error}") from error
                if not target:  # BuildKit: env= alone mounts no file
                    continue
            try:
                staged = _secret(secret, opts, scratch / f"secret-{len(mounts)}")
            except OSError as error:
                raise where.error(f"cannot provide secret {ident!r}: {error}") from error
            mounts.append(sandbox.Mount.bind(staged, target or f"/run/secrets/{ident}"))
        elif kind == "ssh":
            _ssh_mount(where, opts, services, scratch, found)
        elif kind == "tmpfs":
            if not target:
                raise where.error("tmpfs mount needs target=")
            mounts.append(sandbox.Mount.tmpfs(target))
        elif kind == "cache":
            if not target:
                raise where.error("cache mount needs target=")
            found.caches.append(
                (len(mounts), cache_request(where, opts, target, services.from_root))
            )
            mounts.append(sandbox.Mount.tmpfs(target))  # replaced by the directory in hold_caches
        elif kind == "bind":
            if not target:
                raise where.error("bind mount needs target=")
            named = None
            if opts.get("from") and services.from_context is not None:
                named = services.from_context(opts["from"])  # a directory --build-context
            from_root = services.from_root if opts.get("from") and named is None else None
            from_context = from_root is None
            context = named or services.context
            base = named.root if named is not None else services.context_root
            base = base if from_root is None else from_root(opts["from"])
            inner = opts.get("source") or opts.get("src") or ""
            host = resolve_source(base, inner, lambda text: where.error("bind " + text))
            readonly = opts.get("rw", opts.get("readwrite", "false")).lower() != "true"
            view = scratch / f"view-{len(mounts)}"
            if from_context and context is not None:
                try:
                    host = context_view(context, host, view, copy=not readonly) or host
                except SandboxError as error:
                    raise where.error(error.message, hint=error.hint) from None
            if not readonly and host != view:  # writes go to a copy that this RUN alone sees
                copy = scratch / f"rw-{len(mounts)}"
                sandbox.copy_tree(host, copy)
                host = copy
            mounts.append(sandbox.Mount.bind(host, target, readonly=readonly))
        else:
            raise where.error(
                f"unsupported mount type {kind!r}", hint="use cache, bind, tmpfs, secret or ssh"
            )


def _ssh_mount(
    where: Where, opts: dict[str, str], services: RunServices, scratch: Path, found: _Mounts
) -> None:
    """BuildKit's ``type=ssh``: the agent ``id`` names (default ``default``) at ``target``
    (default ``/run/buildkit/ssh_agent.N``); the first one is ``SSH_AUTH_SOCK``."""
    ident = opts.get("id", "default")
    upstream = services.ssh.get(ident)
    if upstream is None:
        if opts.get("required", "false").lower() == "true":
            raise where.error(
                f"ssh agent {ident!r} is required but was not provided",
                hint=f"pass --ssh {ident} (the SSH_AUTH_SOCK agent) or --ssh {ident}=PATH",
            )
        return
    number = len(found.proxies)
    target = opts.get("target") or f"/run/buildkit/ssh_agent.{number}"
    try:
        proxy = SocketProxy(
            scratch / f"ssh-{number}.sock",
            upstream,
            uid=int(opts.get("uid", "0")),
            gid=int(opts.get("gid", "0")),
            mode=int(opts.get("mode", "0600"), 8),
        )
    except (OSError, ValueError) as error:
        raise where.error(f"cannot provide ssh agent {ident!r}: {error}") from error
    found.proxies.append(proxy)
    found.mounts.append(sandbox.Mount.bind(proxy.path, target, readonly=False))
    if number == 0:
        found.env["SSH_AUTH_SOCK"] = target


def _volume_mounts(copier: Copier, state: StageState, scratch: Path) -> list[sandbox.Mount]:
    """Docker runs RUN with each VOLUME as a fresh volume seeded from the image: what the
    command writes there is dropped. A throw-away copy in its place does the same (bound over
    the path, or, in the chroot mode, renamed in and out by ``sandbox.in_place``)."""
    mounts: list[sandbox.Mount] = []
    for index, path in enumerate(sorted(state.config.get("Volumes") or {})):
        resolved = copier.ensure_dir(path)
        seed_dir = scratch / f"volume-{index}"
        seed_dir.mkdir()
        seed = Copier(seed_dir, Ownership(keep_owner=True))
        seed.copy_entry(copier.host(resolved), "", "v", "v", None, True)
        mounts.append(sandbox.Mount.bind(seed_dir / "v", "/" + path.strip("/"), readonly=False))
    return mounts


def _failure_hint() -> str:
    hint = "fix the command or its inputs; the build log has its whole output"
    mapping = userns.current()
    if mapping.kind != "single":
        return hint
    return (
        f"{hint}; this build runs in a single-id user namespace, where only uid 0 exists: "
        f"chown to another id fails (Invalid argument); {userns.subuid_remedy(mapping)}"
    )


def run_step(where: Where, state: StageState, services: RunServices) -> str:
    """Run the command in ``state.root``; returns the history ``created_by``."""
    root = state.root
    if root is None:
        raise where.error("internal: the stage root is not unpacked")
    scripts = services.work_dir / "scripts"
    argv, saved = run_argv(where, state, scripts)
    identity = resolve_user(root, state.user)
    copier = Copier(root)
    workdir = state.workdir or "/"
    copier.ensure_dir(workdir)
    env: dict[str, str] = {}
    for item in state.run_env():
        key, _, value = item.partition("=")
        env[key] = value
    env.setdefault("HOME", identity.home if identity.uid else "/root")
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    log = services.log

    def output(chunk: bytes) -> None:
        text = chunk.decode("utf-8", "replace")
        for line in text.splitlines():
            tail.append(line)
        if log is not None:
            log(text)

    network = _network(where)
    _security(where)
    placed: sandbox.InPlace | None = None
    with contextlib.ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=services.work_dir))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        volumes = _volume_mounts(copier, state, scratch)
        found = _mounts(where, state, services, scratch)
        for proxy in found.proxies:
            stack.callback(proxy.close)
        env.update(found.env)
        chroot = sandbox.probe().kind == "chroot"
        hold_caches(
            where, found.caches, found.mounts, services.cache_dir, scratch, stack, exclusive=chroot
        )
        mounts = [*volumes, *found.mounts]
        if argv and argv[0].startswith("/dev/pipes/"):
            mounts.append(sandbox.Mount.bind(scripts, "/dev/pipes"))
        if chroot:  # no mounts: copy and move things in place
            placed = stack.enter_context(sandbox.in_place(root, mounts))
            mounts = []
        code = sandbox.run(
            root,
            argv,
            env=env,
            workdir=workdir,
            user=f"{identity.uid}:{identity.gid}",
            groups=identity.groups,
            mounts=mounts,
            network=network,
            output=output,
        )
    if placed is not None:  # the snapshot may ignore what was put back as it was
        top = os.path.realpath(root)
        services.restored.extend(os.path.relpath(path, top) for path in placed.restored)
    if code != 0:
        raise BuildError(
            f"RUN returned a non-zero code: {code}",
            location=where.location,
            instruction=where.instruction.original.strip(),
            exit_code=code,
            output_tail="\n".join(tail),
            hint=_failure_hint(),
        )
    history_args = state.history_args()
    prefix = [f"|{len(history_args)}", *history_args] if history_args else []
    return " ".join([*prefix, *saved])


def _network(where: Where) -> Literal["default", "none"]:
    """``--network``: ``none``, or the host's network (``default`` and ``host`` are it)."""
    value = where.instruction.flag("network")
    if value == "none":
        return "none"
    if value in (None, "default", "host"):
        return "default"
    raise BuildError(
        f"RUN --network={value} is not a network mode",
        location=where.location,
        instruction=where.instruction.original.strip(),
        hint="use --network=default, none or host",
    )


def _security(where: Where) -> None:
    """``--security``: ``sandbox`` (the default) runs; ``insecure`` is refused, never granted."""
    value = where.instruction.flag("security")
    if value in (None, "sandbox"):
        return
    insecure = value == "insecure"
    raise BuildError(
        "RUN --security=insecure would need privileges that imagebuild never grants"
        if insecure
        else f"RUN --security={value} is not a security mode",
        location=where.location,
        instruction=where.instruction.original.strip(),
        hint="drop --security=insecure: the step runs in the sandbox"
        if insecure
        else "use --security=sandbox (the default) or drop the flag",
    )
