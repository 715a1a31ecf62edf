"""User and group names resolved the way docker does: from the stage's own /etc files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_imagebuild.builder.fs.paths import RootResolver
from pytest_imagebuild.errors import BuildError, ImageBuildError

__all__ = ["Identity", "parse_chown", "resolve_user"]


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    home: str = "/"
    groups: tuple[int, ...] = ()


def _read(root: Path, name: str) -> list[list[str]]:
    try:
        parent = RootResolver(str(root)).directory("etc", create=False, where=name)
        text = Path(parent, name.rsplit("/", 1)[-1]).read_text(encoding="utf-8", errors="replace")
    except (OSError, ImageBuildError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _lookup_user(root: Path, name: str) -> list[str] | None:
    for fields in _read(root, "etc/passwd"):
        if len(fields) >= 7 and (fields[0] == name or (name.isdigit() and fields[2] == name)):
            return fields
    return None


def _lookup_group(root: Path, name: str) -> list[str] | None:
    for fields in _read(root, "etc/group"):
        if len(fields) >= 3 and (fields[0] == name or (name.isdigit() and fields[2] == name)):
            return fields
    return None


MAX_ID = 4294967294  # ids are 32 bits; 4294967295 is (uid_t)-1, "no id"


def _number(text: str) -> int | None:
    """A numeric id, None for a name; an id beyond 32 bits is an error, not an overflow."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    if value > MAX_ID:
        raise BuildError(
            f"invalid user or group id {text}: ids range from 0 to {MAX_ID}",
            hint="use a smaller id, or a name from the image's /etc/passwd or /etc/group",
        )
    return value


def _field_id(fields: list[str], index: int, path: str) -> int:
    value = _number(fields[index])
    if value is None:
        raise BuildError(
            f"{path}: entry {fields[0]!r} has a non-numeric id {fields[index]!r}",
            hint=f"fix the image's {path}",
        )
    return value


def resolve_user(root: Path, spec: str) -> Identity:
    """``USER`` for RUN: name or uid, optional ``:group``; supplementary groups from /etc/group."""
    user, _, group = (spec or "0").partition(":")
    entry = _lookup_user(root, user)
    if entry is None:
        uid = _number(user)
        if uid is None:
            raise BuildError(
                f"unable to find user {user}: no matching entries in passwd file",
                hint="create the user (useradd) before USER, or use a numeric uid",
            )
        gid, home = 0, "/"
    else:
        uid, gid = _field_id(entry, 2, "/etc/passwd"), _field_id(entry, 3, "/etc/passwd")
        home = entry[5] or "/"
    if group:
        gentry = _lookup_group(root, group)
        if gentry is not None:
            gid = _field_id(gentry, 2, "/etc/group")
        elif (number := _number(group)) is not None:
            gid = number
        else:
            raise BuildError(
                f"unable to find group {group}: no matching entries in group file",
                hint="create the group (groupadd) or use a numeric gid",
            )
    groups: list[int] = [gid]
    if entry is not None and not group:
        for fields in _read(root, "etc/group"):
            if len(fields) >= 4 and entry[0] in fields[3].split(","):
                gid_extra = _number(fields[2])
                if gid_extra is not None and gid_extra not in groups:
                    groups.append(gid_extra)
    return Identity(uid, gid, home, tuple(groups))


def parse_chown(root: Path, spec: str) -> tuple[int, int]:
    """``--chown=user[:group]``: names from the image, a missing group means the user's name."""
    user, _, group = spec.partition(":")
    group = group or user
    uid = _number(user)
    if uid is None:
        entry = _lookup_user(root, user)
        if entry is None:
            raise BuildError(
                f"unable to convert uid/gid chown string to host mapping: can't find uid for "
                f"user {user}: no such user: {user}",
                hint="COPY --chown names must exist in the image's /etc/passwd",
            )
        uid = _field_id(entry, 2, "/etc/passwd")
    gid = _number(group)
    if gid is None:
        gentry = _lookup_group(root, group)
        if gentry is None:
            raise BuildError(
                f"unable to convert uid/gid chown string to host mapping: can't find gid for "
                f"group {group}: no such group: {group}",
                hint="COPY --chown group names must exist in the image's /etc/group",
            )
        gid = _field_id(gentry, 2, "/etc/group")
    return uid, gid
