"""COPY and ADD: sources from the context, another stage or image, a heredoc or a URL."""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pytest_imagebuild.builder.context import BuildContext, PatternMatcher
from pytest_imagebuild.builder.dockerfile.expand import expand_heredoc
from pytest_imagebuild.builder.fs.paths import MAX_LINKS, RootResolver
from pytest_imagebuild.builder.fs.skipped import Skipped
from pytest_imagebuild.errors import BuildError, ContextError, ImageBuildError
from pytest_imagebuild.regex import Regex

from .archive import extract_archive, is_archive
from .base import Where
from .chmod import parse_chmod
from .copyfs import Copier, Ownership
from .history import nop_string
from .remote import fetch_url
from .srchash import combine, dir_hash, entry_hasher
from .state import StageState
from .users import parse_chown

__all__ = ["CopyResult", "CopySources", "copy_step"]

_WILDCARD = re.compile(r"[*?\[]")
_HEREDOC_WORD = re.compile(r"^\d*<<-?")
_URL = re.compile(r"^https?://", re.IGNORECASE)
# what BuildKit reads as a git repository in ADD
_GIT = re.compile(r"^(git://|git@|ssh://|https?://[^#]*\.git(#.*)?$)", re.IGNORECASE)


@dataclass(frozen=True)
class CopyResult:
    created_by: str
    changed: list[str]


@dataclass(frozen=True)
class CopySources:
    """Where sources come from: the context, and a resolver for ``--from`` values."""

    context: BuildContext
    from_root: Callable[[str], Path]
    download_dir: Path
    from_context: Callable[[str], BuildContext | None] | None = None
    """A ``--from`` name that is a directory ``--build-context``: read as a context."""
    skipped: Skipped = field(default_factory=Skipped)  # what ADD could not unpack


@dataclass
class _Source:
    host: str
    name: str
    rel: str


def _normalize_dest(workdir: str, dest: str) -> str:
    if dest.startswith("/"):
        return dest
    joined = posixpath.join("/", workdir or "/", dest)
    joined = posixpath.normpath(joined)
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


def _go_match_regex(pattern: str) -> Regex:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError("syntax error in pattern")
            body = pattern[i:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end + 1
        elif ch == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return Regex("".join(out))


def _glob(root: Path, pattern: str, hidden: Callable[[str], bool]) -> list[str]:
    """Paths (relative to ``root``) matching a Go filepath.Match pattern, component-wise."""
    parts = [p for p in pattern.split("/") if p and p != "."]
    found = [""]
    for index, part in enumerate(parts):
        nxt: list[str] = []
        for base in found:
            try:  # a directory reached through a symlink is listed inside the root, never outside
                host = RootResolver(str(root)).directory(base, create=False, where="COPY")
            except ImageBuildError:
                continue
            if not _WILDCARD.search(part):
                cand = f"{base}/{part}" if base else part
                if os.path.lexists(root / cand) and not hidden(cand):
                    nxt.append(cand)
                continue
            try:
                names = sorted(os.listdir(host))
            except (NotADirectoryError, FileNotFoundError):
                continue
            regex = _go_match_regex(part)
            for name in names:
                cand = f"{base}/{name}" if base else name
                last = index == len(parts) - 1
                if regex.fullmatch(name) and not hidden(cand) and (last or (root / cand).is_dir()):
                    nxt.append(cand)
        found = nxt
    return found


def _resolve_sources(
    where: Where, words: list[str], root: Path, hidden: Callable[[str], bool], keyword: str
) -> list[_Source]:
    out: list[_Source] = []
    unmatched: list[str] = []
    for word in words:
        pivot = word.find("/./")
        if posixpath.normpath(word).startswith("../") or posixpath.normpath(word) == "..":
            raise ContextError(
                f"{keyword}: forbidden path outside the build context: {word}",
                location=where.location,
                hint="sources are relative to the context; move the file into it",
            )
        clean = posixpath.normpath("/" + word).lstrip("/") or "."
        try:
            matches = _glob(root, clean, hidden) if _WILDCARD.search(clean) else None
        except ValueError as exc:
            raise ContextError(
                f"{keyword}: bad source pattern {word!r}: {exc}",
                location=where.location,
                hint="wildcards use Go's filepath.Match syntax: * ? [a-z] and \\ to escape",
            ) from None
        if matches is None:
            rel = "" if clean == "." else clean
            if not os.path.lexists(root / rel if rel else root) or (rel and hidden(rel)):
                raise BuildError(
                    f"{keyword} failed: file not found in build context or excluded by "
                    f".dockerignore: stat {word}: file does not exist",
                    location=where.location,
                    instruction=where.instruction.original,
                    hint="check the path against the context directory and .dockerignore",
                )
            matches = [rel]
        elif not matches:
            unmatched.append(word)  # not an error beside sources that exist, as for docker
        for rel in matches:
            keep = rel
            if pivot >= 0:
                keep = posixpath.normpath(word[pivot + 3 :]).lstrip("/")
            host = resolve_in_root(root, rel, where)
            if not os.path.lexists(host):
                raise BuildError(
                    f"{keyword} failed: {rel!r} is a symlink to a missing path (links resolve "
                    "inside the build context)",
                    location=where.location,
                    instruction=where.instruction.original,
                )
            out.append(_Source(host, rel or ".", keep))
    if unmatched and not out:
        shown = ", ".join(repr(w) for w in unmatched)
        raise BuildError(
            f"{keyword} failed: no source files were specified (nothing matches {shown})",
            location=where.location,
            instruction=where.instruction.original,
            hint="check the patterns against the context directory and .dockerignore",
        )
    return out


def resolve_in_root(root: Path, rel: str, where: Where) -> str:
    """Host path of ``rel`` with every symlink (the last one too) resolved inside ``root``."""
    resolver = RootResolver(str(root))
    for _ in range(MAX_LINKS):
        parent, _, leaf = rel.rpartition("/")
        try:
            base = resolver.directory(parent, create=False, where=where.keyword)
        except ImageBuildError as exc:
            raise BuildError(
                f"{where.keyword}: cannot resolve {rel!r}: {exc.message}", location=where.location
            ) from exc
        host = os.path.join(base, leaf) if leaf else base
        if not leaf or not os.path.islink(host):
            return host
        target = os.readlink(host)
        prefix = "" if target.startswith("/") else os.path.relpath(base, resolver.root)
        rel = posixpath.normpath("/" + posixpath.join("" if prefix == "." else prefix, target))
        rel = rel.lstrip("/")
    raise BuildError(
        f"{where.keyword}: too many levels of symbolic links in {rel!r}", location=where.location
    )


def _through_links(root: Path, rel: str, where: Where) -> str:
    """``rel`` with symlinks (the last one too) resolved in-root; as given when it cannot be
    (a parent is a file: the copy reports that itself)."""
    if not rel:
        return rel
    try:
        host = resolve_in_root(root, rel, where)
    except BuildError:
        return rel
    top = str(root).rstrip("/") or "/"
    return host[len(top) :].strip("/") if host.startswith(top) else rel


def copy_step(where: Where, state: StageState, sources: CopySources) -> CopyResult:
    """Execute COPY or ADD on ``state.root``; returns history text and changed paths."""
    instr, keyword = where.instruction, where.keyword
    if state.root is None:
        raise where.error("internal: the stage root is not unpacked")
    if len(instr.args) < 2:
        raise where.error(f"{keyword} requires at least two arguments")
    env = state.expansion_env()
    written = where.expand(instr.args[-1], env)
    dest = _normalize_dest(state.workdir, written)
    heredocs = list(instr.heredocs)
    chown, chmod = instr.flag("chown"), instr.flag("chmod")
    from_ref = instr.flag("from")
    named = sources.from_context(from_ref) if from_ref and sources.from_context else None
    # --from without --chown keeps the source stage's owners, as docker's builder does
    owner = Ownership(keep_owner=bool(from_ref) and named is None)
    if chown:
        uid, gid = parse_chown(state.root, where.expand(chown, env))
        owner = Ownership(uid, gid)
    if chmod:
        try:
            owner = replace(owner, chmod=parse_chmod(where.expand(chmod, env)))
        except ValueError as exc:
            raise where.error(str(exc)) from exc
    excludes = PatternMatcher([where.expand(e, env) for e in instr.flag_values("exclude")])
    if named is not None:
        root, ctx = named.root, named
    elif from_ref:
        root, ctx = sources.from_root(from_ref), None
    else:
        root, ctx = sources.context.root, sources.context

    def hidden(rel: str) -> bool:
        if ctx is not None:
            is_dir = os.path.isdir(os.path.join(root, rel))
            if ctx.skipped_dir(rel) if is_dir else ctx.excluded(rel):
                return True
        return bool(excludes.patterns) and excludes.matches(rel)

    copier = Copier(state.root, owner, skipped=sources.skipped)
    if ctx is not None or excludes.patterns:

        def skip(name: str, srel: str, is_dir: bool) -> bool:
            if ctx is not None and (ctx.skipped_dir(name) if is_dir else ctx.excluded(name)):
                return True
            return bool(excludes.patterns) and excludes.matches(srel)

        copier.skip = skip
        if ctx is not None:
            copier.implied = ctx.excluded
    words: list[str] = []
    urls: list[str] = []
    inline: list[tuple[str, str]] = []
    unpack = _unpack(where)
    for word in instr.args[:-1]:
        if keyword == "ADD" and _GIT.match(where.expand(word, env)):
            raise where.error(
                f"ADD of a git repository is not supported: {where.expand(word, env)}",
                hint="clone it in a RUN step, or ADD the repository's archive URL",
            )
        if _HEREDOC_WORD.match(word) and heredocs:
            doc = heredocs.pop(0)
            body = expand_heredoc(doc.body, env) if doc.expand else doc.body
            inline.append((doc.name, body))
        elif keyword == "ADD" and _URL.match(expanded := where.expand(word, env)):
            urls.append(expanded)
        else:
            words.append(where.expand(word, env))
    found = _resolve_sources(where, words, root, hidden, keyword) if words else []
    count = len(found) + len(urls) + len(inline)
    dest_dir = dest.endswith("/") or dest.endswith("/.") or dest == "/"
    if count > 1 and not dest_dir:
        raise where.error(
            f"When using {keyword} with more than one source file, the destination must be "
            "a directory and end with a /"
        )
    link_parents = instr.has_flag("parents")
    hashes: list[str] = []
    # an existing destination symlink is written through, as docker's builder does
    dest_rel = _through_links(state.root, dest.strip("/"), where)
    for src in found:
        archive = keyword == "ADD" and ctx is not None and unpack is not False
        hashes.append(
            _copy_one(copier, src, dest_rel, dest_dir, archive, ctx is not None, link_parents)
        )
    for name, body in inline:
        parent = copier.ensure_dir(
            dest_rel if dest_dir else posixpath.dirname(dest_rel), owned=True
        )
        leaf = name if dest_dir else posixpath.basename(dest_rel)
        copier.write_file(parent, leaf, body.encode(), 0o644, time.time_ns())
        digest = entry_hasher(leaf, 0o100644, 0, 0, len(body.encode()))
        digest.update(body.encode())
        hashes.append("file:" + digest.hexdigest())
    for url in urls:
        fetched = fetch_url(url, sources.download_dir, instr.flag("checksum"), where)
        if unpack and is_archive(str(fetched.path)):  # BuildKit's ADD --unpack of a URL
            parent = copier.ensure_dir(dest_rel, owned=True)
            hashes.append(
                "file:" + extract_archive(copier, str(fetched.path), parent, fetched.name)
            )
            continue
        leaf = (
            fetched.name if (dest_dir or copier.is_dir(dest_rel)) else posixpath.basename(dest_rel)
        )
        target = dest_rel if (dest_dir or copier.is_dir(dest_rel)) else posixpath.dirname(dest_rel)
        parent = copier.ensure_dir(target, owned=True)
        copier.write_file(parent, leaf, fetched.path.read_bytes(), 0o600, fetched.mtime_ns)
        hashes.append(fetched.history_hash)
    # docker glues the --chown flag to the source hash without a space
    command = f"{keyword} --chown={where.expand(chown, env)}" if chown else f"{keyword} "
    # the destination as written (after expansion): docker keeps a relative one relative
    created_by = nop_string(state.shell, f"{command}{combine(hashes)} in {written} ")
    return CopyResult(created_by, sorted(copier.changed))


def _unpack(where: Where) -> bool | None:
    """``ADD --unpack``: None (local archives unpacked, downloads not), True or False."""
    value = where.instruction.flag("unpack")
    if where.instruction.flag("keep-git-dir") is not None:
        raise where.error(
            "ADD --keep-git-dir applies to git sources, which imagebuild does not fetch",
            hint="drop --keep-git-dir; clone the repository in a RUN step",
        )
    if value is None:
        return None
    return value.lower() != "false"  # the parser accepts only boolean values


def _copy_one(
    copier: Copier,
    src: _Source,
    dest_rel: str,
    dest_dir: bool,
    archive: bool,
    context: bool,
    parents: bool,
) -> str:
    fs_owner = not context
    is_dir = os.path.isdir(src.host)
    if parents and src.rel not in ("", "."):
        dest_rel = f"{dest_rel}/{src.rel}".strip("/")
        if not is_dir:
            dest_rel, dest_dir = posixpath.dirname(dest_rel), True
    if is_dir:
        parent_rel, leaf = posixpath.split(dest_rel)
        parent = copier.ensure_dir(parent_rel)
        entries: list[str] = []
        copier.links = {}  # hardlinks are kept within one copied directory
        if leaf:
            copier.copy_entry(src.host, parent, leaf, src.name, entries, fs_owner, top=True)
        else:
            copier.changed.add("")
            for child in sorted(os.listdir(src.host)):
                name = f"{src.name}/{child}" if src.name != "." else child
                child_dir = os.path.isdir(os.path.join(src.host, child))
                if copier.skip is None or not copier.skip(name, child, child_dir):
                    copier.copy_entry(
                        os.path.join(src.host, child),
                        "",
                        child,
                        name,
                        entries,
                        fs_owner,
                        srel=child,
                    )
        copier.links = None
        return dir_hash(entries)
    if archive and is_archive(src.host):
        parent = copier.ensure_dir(dest_rel)
        return "file:" + extract_archive(copier, src.host, parent, src.name)
    # a single file's missing parents belong to the --chown identity (root otherwise)
    if dest_dir or copier.is_dir(dest_rel):
        # named as the source was named: a symlink source keeps its own name
        named = src.name if src.name not in ("", ".") else src.host
        parent, leaf = copier.ensure_dir(dest_rel, owned=True), posixpath.basename(named)
    else:
        parent = copier.ensure_dir(posixpath.dirname(dest_rel), owned=True)
        leaf = posixpath.basename(dest_rel)
    entries = []
    copier.copy_entry(src.host, parent, leaf, src.name, entries, fs_owner)
    return "file:" + entries[0] if entries else "file:"
