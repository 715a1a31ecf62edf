"""Names and ids no sane tool writes: newlines and non-UTF-8 bytes in file names (in the
context and in layers), absurd uids and gids (2**32-1, which chown(2) reads as "leave
unchanged", and base-256 numbers past 32 bits). Each ends in the project's error at the
instruction, or an image that says exactly what it holds."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from pytest_imagebuild.image import Image
from tests.hostile.harness import assert_located_error, attempt
from tests.image import imagekit as k

ODD = ["new\nline", "caf\udce9", "tab\tand space", "-dash"]


def test_odd_names_in_the_context(space: Path, user: str) -> None:
    context = space / "context"
    (context / "dir").mkdir(parents=True)
    for name in ODD:
        with open(os.path.join(os.fsencode(context / "dir"), os.fsencode(name)), "wb") as out:
            out.write(name.encode("utf-8", "surrogateescape"))
    outcome = attempt(context, "FROM scratch\nCOPY dir/ /dir/\n", space / "work", user)
    assert outcome.error is None, outcome.error
    assert outcome.image is not None
    with Image.open(outcome.image) as image:
        for name in ODD:
            assert image.file(f"/dir/{name}").read_bytes() == name.encode(
                "utf-8", "surrogateescape"
            )


def test_odd_names_in_a_base_layer(space: Path, user: str) -> None:
    layer = k.layer([k.file(name, b"x") for name in ODD])
    layout = k.oci_layout(space / "base", [k.Spec([layer], k.config([layer]))])
    context = space / "context"
    context.mkdir()
    (context / "x").write_text("x\n")
    outcome = attempt(context, f"FROM oci:{layout}\nCOPY x /x\n", space / "work", user)
    assert outcome.error is None, outcome.error
    assert outcome.image is not None
    with Image.open(outcome.image) as image:
        assert sorted(f.path for f in image.walk() if f.is_file) == sorted(
            ["/x", *(f"/{n}" for n in ODD)]
        )


def owned(name: str, uid: int, gid: int) -> k.Entry:
    entry = k.file(name, b"owned\n", uid=uid, gid=gid)
    return entry


ABSURD = [(2**32 - 1, 0), (0, 2**32 - 1), (2**40, 5), (2**33 + 7, 2**33 + 7)]


def absurd_tar() -> bytes:
    # GNU format: base-256 numbers hold ids past the 7 octal digits of ustar
    return k.tar_bytes(
        [owned(f"f{i}", uid, gid) for i, (uid, gid) in enumerate(ABSURD)], tarfile.GNU_FORMAT
    )


def test_absurd_ids_in_an_add_archive(space: Path, user: str) -> None:
    context = space / "context"
    context.mkdir()
    (context / "ids.tar").write_bytes(absurd_tar())
    outcome = attempt(context, "FROM scratch\nADD ids.tar /ids/\n", space / "work", user)
    if outcome.error is not None:
        assert_located_error(outcome)
        return
    assert outcome.image is not None
    assert any(line.startswith("owner:") for line in outcome.skipped), outcome.skipped
    with Image.open(outcome.image) as image:
        for i in range(len(ABSURD)):
            f = image.file(f"/ids/f{i}")
            assert (f.uid, f.gid) == (0, 0)  # not applied, reported, root kept


def test_absurd_ids_in_a_base_layer(space: Path, user: str) -> None:
    raw = absurd_tar()
    layer = k.Layer(raw, raw)
    layout = k.oci_layout(space / "base", [k.Spec([layer], k.config([layer]))])
    context = space / "context"
    context.mkdir()
    (context / "x").write_text("x\n")
    outcome = attempt(context, f"FROM oci:{layout}\nCOPY x /x\n", space / "work", user)
    assert outcome.error is None, outcome.error
    assert [line for line in outcome.skipped if line.startswith("owner:")] == [
        "owner: 4 paths not applied (f0, f1, f2, ...)"
    ]
    assert outcome.image is not None
    with Image.open(outcome.image) as image:  # the base layer itself is kept as it was
        assert (image.file("/f2").uid, image.file("/f2").gid) == (2**40, 5)
