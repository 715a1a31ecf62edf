"""The read side on mutated input: a real layer tar with flipped bytes or cut short (its
diff_id recomputed, so the parser sees the damage), and manifest.json with random values,
opens and reads as an image or fails with the project's error, never another exception."""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image
from tests.image.imagekit import (
    Layer,
    Spec,
    config,
    directory,
    docker_archive,
    file,
    hardlink,
    symlink,
    tar_bytes,
)

ENTRIES = [
    directory("etc"),
    file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    file("a/" + "long-name-" * 20, b"x" * 700),
    symlink("etc/link", "/etc/passwd"),
    hardlink("etc/hard", "etc/passwd"),
    file("bin/tool", b"\x7fELF" + b"\0" * 1500, mode=0o4755),
]
TARS = {fmt: tar_bytes(ENTRIES, fmt) for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT)}


def fix_checksums(data: bytearray) -> None:
    """Recompute the checksum of every block that looks like a header, so a mutation of a
    header field reaches the field parsers instead of stopping at the checksum."""
    for start in range(0, len(data) - 511, 512):
        block = data[start : start + 512]
        if block[257:262] != b"ustar":
            continue
        block[148:156] = b" " * 8
        data[start + 148 : start + 156] = b"%06o\0 " % sum(block)


def read_everything(path: Path) -> None:
    with Image.open(path) as image:
        for entry in image.walk():
            if entry.is_file:
                entry.read_bytes()
                _ = entry.sha256
        image.glob("**/*")
        _ = (image.env, image.entrypoint, image.user, image.labels, image.history)


def open_or_project_error(path: Path) -> str:
    try:
        read_everything(path)
    except ImageBuildError as error:
        return error.message
    return "read"


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(TARS)),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.one_of(st.none(), st.integers(0, 10_000)),
    st.booleans(),
)
def test_a_mutated_layer_reads_or_fails_with_the_projects_error(
    fmt: int, flips: list[tuple[int, int]], cut: int | None, checksums: bool
) -> None:
    data = bytearray(TARS[fmt])
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    if checksums:
        fix_checksums(data)
    raw = bytes(data if cut is None else data[:cut])
    layer = Layer(raw, raw)
    with tempfile.TemporaryDirectory() as work:
        path = docker_archive(Path(work) / "image.tar", Spec([layer], config([layer])))
        assert open_or_project_error(path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["Config", "Layers", "RepoTags", None]), JSON_VALUES)
def test_a_mutated_manifest_reads_or_fails_with_the_projects_error(
    key: str | None, value: object
) -> None:
    layer = Layer(TARS[tarfile.PAX_FORMAT], TARS[tarfile.PAX_FORMAT])
    with tempfile.TemporaryDirectory() as work:
        good = docker_archive(Path(work) / "good.tar", Spec([layer], config([layer])))
        bad = Path(work) / "bad.tar"
        with tarfile.open(good) as source, tarfile.open(bad, "w") as out:
            for member in source.getmembers():
                blob = source.extractfile(member)
                data = blob.read() if blob else b""
                if member.name == "manifest.json":
                    manifest = json.loads(data)
                    if key is None:
                        manifest = value
                    else:
                        manifest[0][key] = value
                    data = json.dumps(manifest).encode()
                member.size = len(data)
                out.addfile(member, __import__("io").BytesIO(data))
        assert open_or_project_error(bad)
