"""Archive members that aim outside the root, in ADD archives and in base layers: ``../``
and absolute names, a symlink to the host followed by a write through it, hardlinks to
paths out of the root or through a symlink to the host. Each build ends in the project's
error pointing at the instruction, or an image where the members landed inside the root;
the host directory the links name is never touched and never copied in."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.hostile.harness import (
    CANARY,
    Outcome,
    assert_located_error,
    attempt,
    make_canary,
    matrix,
)
from tests.image import imagekit as k

PAYLOAD = b"payload from the archive\n"


def members(case: str, host: Path) -> list[k.Entry]:
    """The hostile members of one case; ``host`` is the canary directory on the host."""
    if case == "dotdot":
        return [k.file("../../../escaped", PAYLOAD), k.file("ok", PAYLOAD)]
    if case == "absolute":
        return [k.file(f"{host}/secret", PAYLOAD), k.file("/abs-inside", PAYLOAD)]
    if case == "symlink-then-write":
        return [k.symlink("a", str(host)), k.file("a/secret", PAYLOAD)]
    if case == "relative-symlink-then-write":
        return [k.symlink("up", "../../../../../../../../.."), k.file(f"up{host}/secret", PAYLOAD)]
    if case == "symlink-then-etc":
        return [k.symlink("etc", "/etc"), k.file("etc/passwd", PAYLOAD)]
    if case == "hardlink-out":
        return [k.hardlink("stolen", f"../../../../../../../..{host}/secret")]
    if case == "hardlink-absolute":
        return [k.hardlink("stolen", f"{host}/secret")]
    if case == "hardlink-through-symlink":
        return [k.symlink("h", f"{host}/secret"), k.hardlink("stolen", "h")]
    raise ValueError(case)


CASES = [
    "dotdot",
    "absolute",
    "symlink-then-write",
    "relative-symlink-then-write",
    "symlink-then-etc",
    "hardlink-out",
    "hardlink-absolute",
    "hardlink-through-symlink",
]


def check_image(outcome: Outcome) -> None:
    """A located error, or an image that reads back with no host bytes in it (the harness
    has checked the host directory is untouched: the payload landed inside the root)."""
    if outcome.error is not None:
        assert_located_error(outcome)
        return
    assert outcome.image is not None
    with Image.open(outcome.image) as image:
        contents = [f.read_bytes() for f in image.walk() if f.is_file]
    assert not [c for c in contents if CANARY.encode() in c]


ROOTLESS_TOO = {"dotdot", "symlink-then-write", "hardlink-through-symlink"}
IMAGE_CASES = ["dotdot", "absolute", "relative-symlink-then-write"]
ERROR_CASES = [c for c in CASES if c not in IMAGE_CASES]


def test_add_archives_that_land_inside(space: Path, user: str) -> None:
    """Cases that make an image, each as its own archive, one ADD each, in one build."""
    host = make_canary(space)
    context = space / "context"
    context.mkdir()
    lines = ["FROM scratch"]
    for case in IMAGE_CASES:
        (context / f"{case}.tar").write_bytes(k.tar_bytes(members(case, host), tarfile.PAX_FORMAT))
        lines.append(f"ADD {case}.tar /dest/{case}/")
    outcome = attempt(context, "\n".join(lines) + "\n", space / "work", user, host)
    check_image(outcome)
    assert outcome.image is not None, outcome.error
    with Image.open(outcome.image) as image:
        assert image.file("/dest/dotdot/escaped").read_bytes() == PAYLOAD  # ".." stops at dest
        assert image.file("/dest/dotdot/ok").read_bytes() == PAYLOAD
        assert image.file("/dest/absolute/abs-inside").read_bytes() == PAYLOAD
        assert image.file(f"/dest/absolute{host}/secret").read_bytes() == PAYLOAD
        assert image.file(f"{host}/secret").read_bytes() == PAYLOAD  # up -> ../.., in-root


# the same extraction code runs for both users: a few cases keep the rootless run short
@pytest.mark.parametrize(("user", "case"), matrix(ERROR_CASES, ROOTLESS_TOO))
def test_add_archives_that_aim_out(space: Path, user: str, case: str) -> None:
    host = make_canary(space)
    context = space / "context"
    context.mkdir()
    (context / "evil.tar").write_bytes(k.tar_bytes(members(case, host), tarfile.PAX_FORMAT))
    outcome = attempt(context, "FROM scratch\nADD evil.tar /dest/\n", space / "work", user, host)
    check_image(outcome)


@pytest.mark.parametrize(("user", "case"), matrix(CASES, ROOTLESS_TOO))
def test_base_layer(space: Path, user: str, case: str) -> None:
    host = make_canary(space)
    layer = k.layer(members(case, host))
    layout = k.oci_layout(space / "base", [k.Spec([layer], k.config([layer]))])
    context = space / "context"
    context.mkdir()
    (context / "x").write_text("x\n")
    outcome = attempt(context, f"FROM oci:{layout}\nCOPY x /x\n", space / "work", user, host)
    check_image(outcome)
