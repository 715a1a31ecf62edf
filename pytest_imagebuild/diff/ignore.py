"""Ignore rules: a rule starting with "/" is a path glob (``image.glob`` syntax), any
other rule is a field name (``mtime``, ``config.labels.build-date``, ``history``).

A field rule drops the field and every field below it: ``config.labels`` drops every
label. File field rules apply to every path; ``GLOB:FIELD`` (``/var/log/**:mtime``)
drops a field on the matching paths only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image.pathglob import compile_glob

__all__ = ["SEMANTIC_FIELDS", "Rules"]

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


@dataclass(frozen=True)
class Rules:
    """Compiled ignore rules."""

    paths: tuple[re.Pattern[str], ...] = ()
    fields: tuple[str, ...] = ()
    path_fields: tuple[tuple[re.Pattern[str], str], ...] = ()

    @classmethod
    def parse(cls, rules: Iterable[str], semantic: bool = False) -> Rules:
        paths: list[re.Pattern[str]] = []
        fields: list[str] = list(SEMANTIC_FIELDS) if semantic else []
        path_fields: list[tuple[re.Pattern[str], str]] = []
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
            else:
                fields.append(_field(rule, rule))
        return cls(tuple(paths), tuple(fields), tuple(path_fields))

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
