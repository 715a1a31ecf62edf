"""Write a structure-test project into a pytester directory and run it."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest


def structure_project(
    pytester: pytest.Pytester, image_tar: Path, suites: dict[str, str], entry: str = ""
) -> Path:
    """``image.tar`` plus the YAML ``suites``; the ini key names them with ``entry``
    (default: every ``*.yaml`` on image.tar)."""
    shutil.copyfile(image_tar, pytester.path / "image.tar")
    for name, text in suites.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    key = entry or "*.yaml=image.tar"
    pytester.makeini(f"[pytest]\nfilterwarnings = error\nimagebuild_structure_tests = {key}\n")
    return pytester.path
