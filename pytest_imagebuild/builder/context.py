"""The build context: where COPY and ADD read from, and which paths ``.dockerignore`` hides.

Contexts come as a directory (``DIR`` or ``dir://DIR``) or a gzip tar (``tar://FILE`` or
``tar://stdin``) that is unpacked, with tarsafe's checks, into the build's own directory.

Ignore files follow docker's pattern matcher: Go ``filepath.Match`` syntax plus ``**``,
``!`` exceptions, the last matching pattern wins, a pattern matching a directory hides
everything below it, leading ``/`` stripped and paths cleaned.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import tarsafe  # type: ignore[import-untyped]

from pytest_imagebuild.errors import ContextError, UsageError
from pytest_imagebuild.regex import RegexSet

__all__ = [
    "BuildContext",
    "IgnorePattern",
    "PatternMatcher",
    "open_context",
    "read_ignore_file",
]


@dataclass(frozen=True)
class IgnorePattern:
    """One ignore pattern and the regular expression it stands for."""

    text: str
    exclusion: bool
    regex: str


def _compile(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        i += 1
        if in_class:
            if ch == "]":
                in_class = False
                out.append("]")
            elif ch == "\\" and i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            elif ch == "[":
                out.append("\\[")
            else:
                out.append(ch)
        elif ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(r"\\")
        elif ch == "[":
            in_class = True
            out.append("[")
        else:
            out.append(re.escape(ch))
    return "".join(out)


class PatternMatcher:
    """Docker's ignore-pattern semantics over "/"-separated relative paths.

    The patterns come from the context, so they are matched all at once by the linear-time
    engine of ``pytest_imagebuild.regex``: a hostile pattern cannot make matching explode.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[IgnorePattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:]
                if not text:
                    raise ContextError('illegal exclusion pattern: "!"')
            text = posixpath.normpath(text)
            self.patterns.append(IgnorePattern(text, exclusion, _compile(text)))
        try:
            self._set = RegexSet([p.regex for p in self.patterns])
        except ValueError as exc:
            raise ContextError(
                f"bad ignore pattern: {exc}",
                hint="patterns use Go's filepath.Match syntax, plus ** and ! exceptions",
            ) from None
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        self._cache: dict[str, bool] = {}
        self._hits: dict[str, frozenset[int]] = {}

    def _matching(self, path: str) -> frozenset[int]:
        hits = self._hits.get(path)
        if hits is None:
            hits = self._hits[path] = self._set.matching(path)
        return hits

    def matches(self, path: str) -> bool:
        """True when ``path`` or one of its parent directories is ignored (last match wins)."""
        hits = set(self._set.matching(path))
        parent = posixpath.dirname(path)
        parts = parent.split("/") if parent else []
        for i in range(len(parts)):
            hits.update(self._matching("/".join(parts[: i + 1])))
        matched = False
        for index, pattern in enumerate(self.patterns):
            if pattern.exclusion == matched and index in hits:
                matched = not pattern.exclusion
        return matched

    def _skips_dir(self, path: str) -> bool:
        """A matched directory is left out whole unless an exception points inside it."""
        if not self.matches(path):
            return False
        if not self.has_exclusions:
            return True
        prefix = path + "/"
        return not any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """Whether ``path`` (relative, no leading "/") is left out of the context."""
        if not self.patterns or path in ("", "."):
            return False
        hit = self._cache.get(path)
        if hit is None:
            parent = posixpath.dirname(path)
            hit = (parent != "" and self._parent_skipped(parent)) or self.matches(path)
            self._cache[path] = hit
        return hit

    def skipped_dir(self, path: str) -> bool:
        """Whether a directory is left out together with everything below it."""
        if not self.patterns or path in ("", "."):
            return False
        parent = posixpath.dirname(path)
        return (parent != "" and self._parent_skipped(parent)) or self._skips_dir_cached(path)

    def _parent_skipped(self, parent: str) -> bool:
        parts = parent.split("/")
        return any(self._skips_dir_cached("/".join(parts[: i + 1])) for i in range(len(parts)))

    def _skips_dir_cached(self, path: str) -> bool:
        key = "\0" + path
        hit = self._cache.get(key)
        if hit is None:
            hit = self._skips_dir(path)
            self._cache[key] = hit
        return hit


def read_ignore_file(text: str) -> list[str]:
    """Lines of a ``.dockerignore`` as docker reads them: comments, blanks, cleaning."""
    patterns: list[str] = []
    for index, line in enumerate(text.splitlines()):
        if index == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line.lstrip("/") or "/"
        patterns.append("!" + line if invert else line)
    return patterns


@dataclass
class BuildContext:
    """A context directory plus its ignore rules."""

    root: Path
    ignore: PatternMatcher

    def excluded(self, rel: str) -> bool:
        return self.ignore.excluded(_clean_rel(rel))

    def skipped_dir(self, rel: str) -> bool:
        """Whether directory ``rel`` is left out whole (no exception points inside it)."""
        return self.ignore.skipped_dir(_clean_rel(rel))

    def with_dockerfile(self, dockerfile: Path) -> BuildContext:
        """The same context with ``<Dockerfile>.dockerignore`` taking precedence."""
        return BuildContext(self.root, PatternMatcher(_ignore_patterns(self.root, dockerfile)))

    def path(self, rel: str) -> Path:
        """The host path of ``rel``; ContextError when it leaves the context."""
        clean = _clean_rel(rel)
        if clean.startswith("../") or clean == "..":
            raise ContextError(
                f"path {rel!r} is outside the build context",
                hint="COPY and ADD sources must be inside the context directory",
            )
        return self.root if clean == "." else self.root / clean


def _clean_rel(rel: str) -> str:
    clean = posixpath.normpath("/" + rel.replace(os.sep, "/")).lstrip("/")
    return clean or "."


def open_context(
    spec: str, dockerfile: Path | None, work_dir: Path, *, stdin: BinaryIO | None = None
) -> BuildContext:
    """Resolve kaniko's ``--context`` forms; tar contexts unpack under ``work_dir``."""
    if spec.startswith("tar://"):
        root = work_dir / "context"
        root.mkdir(parents=True, exist_ok=True)
        source = spec[len("tar://") :]
        if source == "stdin":
            stream = stdin if stdin is not None else sys.stdin.buffer
            if stream.isatty():
                raise UsageError(
                    "tar://stdin needs a gzip tar on standard input",
                    hint="pipe the archive in (docker run needs --interactive, -i)",
                )
            archive = work_dir / "context.tar.gz"
            with archive.open("wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
            _unpack(archive, root)
            archive.unlink()
        else:
            _unpack(Path(source), root)
    elif "://" in spec and not spec.startswith("dir://"):
        scheme = spec.split("://", 1)[0]
        raise UsageError(
            f"unsupported context {spec!r} (scheme {scheme}://)",
            hint="use a directory, dir://DIR, tar://FILE.tar.gz or tar://stdin",
        )
    else:
        root = Path(spec.removeprefix("dir://")).absolute()
        if not root.is_dir():
            raise ContextError(f"build context {root} is not a directory")
    return BuildContext(root, PatternMatcher(_ignore_patterns(root, dockerfile)))


def _ignore_patterns(root: Path, dockerfile: Path | None) -> list[str]:
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile.with_name(dockerfile.name + ".dockerignore"))
    candidates.append(root / ".dockerignore")
    for candidate in candidates:
        if candidate.is_file():
            return read_ignore_file(candidate.read_text(encoding="utf-8", errors="replace"))
    return []


def _unpack(archive: Path, dest: Path) -> None:
    if not archive.is_file():
        raise ContextError(f"context archive {archive} does not exist")
    try:
        with tarsafe.TarSafe.open(str(archive), "r:gz") as tar:
            tar.extractall(str(dest))
    except tarsafe.TarSafeException as exc:
        raise ContextError(
            f"context archive {archive} is unsafe: {exc}",
            hint="the archive may only hold paths inside the context",
        ) from exc
    except (OSError, EOFError, tarsafe.TarError) as exc:
        raise ContextError(
            f"cannot unpack context archive {archive}: {exc}",
            hint="kaniko's tar:// contexts are gzip-compressed tar files",
        ) from exc
