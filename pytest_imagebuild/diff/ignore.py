"""Ignore rules: a rule starting with "/" is a path glob (``image.glob`` syntax), any
other rule is a field name (``mtime``, ``config.labels.build-date``, ``history``).

A field rule drops the field and every field below it: ``config.labels`` drops every
label. File field rules apply to every path; ``GLOB:FIELD`` (``/var/log/**:mtime``)
drops a field on the matching paths only.

Package rules start with ``packages``: ``packages`` (every package change),
``packages.ECOSYSTEM`` and ``packages.ECOSYSTEM.NAME`` (globs: ``packages.*.libc*``), and
after any of them ``:WHAT``: a kind of change (``added``, ``removed``, ``upgraded``,
``downgraded``, ``changed``) or a field (``arch``, ``source``, ``license``), so
``packages.dpkg.libc*:upgraded`` approves upgrades of those packages and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from pytest_imagebuild.diff.model import PACKAGE_CHANGES, PackageChange
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image.pathglob import compile_glob
from pytest_imagebuild.packages.model import canonical_name

__all__ = ["PACKAGE_FIELDS", "SEMANTIC_FIELDS", "PackageRule", "Rules"]

PACKAGE_FIELDS = ("arch", "source", "license")

# Fields that record when or how an image was written, not what it holds: times, the
# layers' bytes, history text, and docker's build bookkeeping (the builder container).
SEMANTIC_FIELDS = (
    "mtime",
    "config.created",
    "history.created",
    "history.created_by",
    "history.comment",
    "layers.diff_ids",
    "layers.sizes",
    "layers.digests",
    "config.raw.Image",
    "config.top.container",
    "config.top.container_config",
    "config.top.docker_version",
)
FIELD = re.compile(r"[A-Za-z0-9_.*?\[\]/:@-]+")
PACKAGE_RULE = re.compile(r"packages(?:\.([^.:\s]+)(?:\.([^:\s]+))?)?(?::(\w+))?")


@dataclass(frozen=True)
class PackageRule:
    """``packages[.ECOSYSTEM[.NAME]][:WHAT]``: globs on the ecosystem and the name."""

    ecosystem: str = "*"
    name: str = "*"
    what: str | None = None

    def matches(self, change: PackageChange) -> bool:
        if not fnmatchcase(change.ecosystem, self.ecosystem):
            return False
        name = change.name
        return fnmatchcase(name, self.name) or fnmatchcase(
            canonical_name(change.ecosystem, name), canonical_name(change.ecosystem, self.name)
        )


def _package_rule(rule: str) -> PackageRule:
    match = PACKAGE_RULE.fullmatch(rule)
    what = match.group(3) if match else None
    if match is None or (what is not None and what not in PACKAGE_CHANGES + PACKAGE_FIELDS):
        raise UsageError(
            f"ignore rule {rule!r} is not a package rule",
            hint="use packages, packages.ECOSYSTEM or packages.ECOSYSTEM.NAME (globs), "
            f"optionally :WHAT, WHAT one of {', '.join(PACKAGE_CHANGES + PACKAGE_FIELDS)}",
        )
    return PackageRule(match.group(1) or "*", match.group(2) or "*", what)


@dataclass(frozen=True)
class Rules:
    """Compiled ignore rules."""

    paths: tuple[re.Pattern[str], ...] = ()
    fields: tuple[str, ...] = ()
    path_fields: tuple[tuple[re.Pattern[str], str], ...] = ()
    packages: tuple[PackageRule, ...] = ()

    @classmethod
    def parse(cls, rules: Iterable[str], semantic: bool = False) -> Rules:
        paths: list[re.Pattern[str]] = []
        fields: list[str] = list(SEMANTIC_FIELDS) if semantic else []
        path_fields: list[tuple[re.Pattern[str], str]] = []
        packages: list[PackageRule] = []
        for rule in rules:
            if not isinstance(rule, str) or not rule.strip():
                raise UsageError(f"ignore rule {rule!r} is empty", hint="give a glob or a field")
            rule = rule.strip()
            if rule.startswith("/"):
                glob, sep, field = rule.partition(":")
                if sep:
                    path_fields.append((compile_glob(glob), _field(field, rule)))
                else:
                    paths.append(compile_glob(glob))
            elif rule == "packages" or rule.startswith(("packages.", "packages:")):
                packages.append(_package_rule(rule))
            else:
                fields.append(_field(rule, rule))
        return cls(tuple(paths), tuple(fields), tuple(path_fields), tuple(packages))

    @property
    def skips_packages(self) -> bool:
        """Whether every package change is ignored (the databases need not be read)."""
        return PackageRule() in self.packages

    def trim_package(self, change: PackageChange) -> PackageChange | None:
        """``change`` less what the package rules ignore; None when nothing is left.

        A rule without ``:WHAT`` drops the change; ``:arch`` (or source, license) drops that
        field; a kind drops the version move of that kind, so an upgrade that also changed
        the arch is still reported until ``:arch`` is allowed too; ``:changed`` drops a
        change that is neither an addition, a removal nor a move in version order."""
        fields = change.fields
        moved = change.change != "changed" or change.old != change.new
        for rule in self.packages:
            if not rule.matches(change):
                continue
            if rule.what is None or rule.what == change.change == "changed":
                return None
            if rule.what in PACKAGE_FIELDS:
                fields = tuple(f for f in fields if f.field != rule.what)
            elif rule.what == change.change:
                moved = False
        if not moved and not fields:
            return None
        return change if fields == change.fields else replace(change, fields=fields)

    def skips_path(self, path: str) -> bool:
        """Whether a path (with its leading "/") is ignored."""
        bare = path[1:]
        return any(p.fullmatch(bare) for p in self.paths)

    def skips_field(self, name: str, path: str | None = None) -> bool:
        """Whether a field (``mode``, ``config.env.PATH``) is ignored, on ``path`` if given."""
        if any(name == f or name.startswith(f + ".") for f in self.fields):
            return True
        if path is None or not self.path_fields:
            return False
        bare = path[1:]
        return any(
            (name == f or name.startswith(f + ".")) and p.fullmatch(bare)
            for p, f in self.path_fields
        )


def _field(field: str, rule: str) -> str:
    field = field.strip()
    if not field or not FIELD.fullmatch(field):
        raise UsageError(
            f"ignore rule {rule!r} names no field",
            hint='use a path glob starting with "/", a field such as "mtime" or '
            '"config.labels.build-date", or GLOB:FIELD',
        )
    return field
