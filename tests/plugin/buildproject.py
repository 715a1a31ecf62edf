"""A pytester project that builds Dockerfiles on the busybox root (no registry, no daemon)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

BASE = "FROM scratch\nADD rootfs.tar /\n"

STAMPS = """
import json
import pathlib

import pytest


@pytest.mark.dockerfile()
def test_stamps(image):
    names = sorted(p for p in image.listdir("/") if p.startswith("stamp"))
    found = {name: image.file("/" + name).read_text() for name in names}
    pathlib.Path("out").mkdir(exist_ok=True)
    pathlib.Path("out/stamps.json").write_text(json.dumps(found))
"""


def build_project(
    pytester: pytest.Pytester, rootfs_tar: Path, files: dict[str, str], ini: str = ""
) -> Path:
    """``rootfs.tar`` plus ``files`` in the pytester directory; warnings are errors.

    The default ``.dockerignore`` keeps the test modules and their output (``out/``,
    ``runpytest-*`` base temp directories of subprocess runs) out
    of the build context, as a real project would.
    """
    shutil.copyfile(rootfs_tar, pytester.path / "rootfs.tar")
    files = {".dockerignore": "out\nrunpytest-*\n**/__pycache__\n*.py\n", **files}
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    pytester.makeini("[pytest]\nfilterwarnings = error\n" + ini)
    return pytester.path


def stamps(pytester: pytest.Pytester) -> dict[str, str]:
    """What the STAMPS test module recorded in its last run."""
    data = json.loads((pytester.path / "out" / "stamps.json").read_text())
    return {str(k): str(v) for k, v in data.items()}


def summary(result: pytest.RunResult) -> str:
    """The ``images: ...`` line of the imagebuild terminal summary."""
    lines = [line for line in result.outlines if line.startswith("images: ")]
    if len(lines) != 1:
        raise AssertionError("no single imagebuild summary line in:\n" + result.stdout.str())
    return lines[0]
