"""docs/base-image-bump.md, step by step, through pytest itself on real Debian images: the
baseline written on the old base, the bump failing with the package and file diff,
``--imagebuild-update-baselines``, a pass, then an upgrade approved by the allow list (and a
downgrade it does not approve)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.diff.conftest import DebianBases

# The project's test opens the image its build step wrote (APP_IMAGE); building it with
# image_factory.build("Dockerfile") instead walks the same way, one rebuild per bump.
TEST = """
import os


def test_app(image_factory, image_baseline):
    image = image_factory.open(os.environ["APP_IMAGE"])
    image_baseline(image, "app")
"""
ALLOW = """\
# demo-tool 1.0-1 -> 1.1-1: approved
packages.dpkg.demo-tool:upgraded
/usr/share/demo-tool/VERSION:sha256
/var/lib/dpkg/**
/var/log/**
"""


TABLE = """\
  WHAT            FIELD    VALUE
+ dpkg demo-tool  version  1.0-1 (added)
+ dpkg libpopt0   version  1.19+dfsg-1 (added)
0 added, 0 removed, 0 changed paths; 0 config, 0 layer, 0 history fields differ; 2 packages changed
"""


class Walk:
    """Runs the project's tests on one image, as CI would after building it."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester, self.monkeypatch = pytester, monkeypatch

    def run(self, image: Path, *args: str) -> pytest.RunResult:
        self.monkeypatch.setenv("APP_IMAGE", str(image))
        return self.pytester.runpytest("-p", "no:benchmark", *args)  # benchmark warns under xdist


def test_base_bump_from_failing_test_to_approved_baseline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, debian_bases: DebianBases
) -> None:
    walk = Walk(pytester, monkeypatch)
    pytester.makepyfile(test_app=TEST)
    baseline = pytester.path / "__baselines__" / "app.txt"

    # 1. the first run writes the baseline, packages included
    walk.run(debian_bases.plain).assert_outcomes(passed=1)
    text = baseline.read_text()
    assert "\n[packages]\n" in text
    assert "\ndpkg libc6 2.36-" in text
    assert "demo-tool" not in text
    assert "libpopt0" not in text

    # 2. the bump: the test fails with the package and the file changes
    failed = walk.run(debian_bases.bumped)
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            f"*the image does not match the baseline {baseline}:",
            "packages (2):",
            "  dpkg demo-tool: 1.0-1 (added)",
            "  dpkg libpopt0: 1.19+dfsg-1 (added)",
            "files changed (*):",
            "  /var/lib/dpkg/status: size: *",
            "files added (*):",
            "  /usr/lib/x86_64-linux-gnu/libpopt.so.0 (symlink 0777 0:0) -> libpopt.so.0.0.2",
            "if these changes are intended, rewrite the baseline with pytest "
            "--imagebuild-update-baselines, or list them in *app.allow",
        ],
        consecutive=False,
    )
    assert baseline.read_text() == text  # a failing run leaves the baseline alone
    command = [sys.executable, "-m", "pytest_imagebuild", "diff", "--only", "packages"]
    command += [str(debian_bases.plain), str(debian_bases.bumped)]
    table = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert (table.returncode, table.stdout) == (1, TABLE), table.stderr

    # 3. approve by rewriting the baseline; the next run passes
    walk.run(debian_bases.bumped, "--imagebuild-update-baselines").assert_outcomes(passed=1)
    approved = baseline.read_text()
    assert "\ndpkg demo-tool 1.0-1 arch=all\n" in approved
    assert "\ndpkg libpopt0 1.19+dfsg-1 arch=amd64\n" in approved
    walk.run(debian_bases.bumped).assert_outcomes(passed=1)

    # 4. an upgrade fails until the allow list approves it
    upgrade = walk.run(debian_bases.upgraded)
    upgrade.assert_outcomes(failed=1)
    upgrade.stdout.fnmatch_lines(
        ["packages (1):", "  dpkg demo-tool: 1.0-1 -> 1.1-1 (upgraded)"], consecutive=True
    )
    upgrade.stdout.fnmatch_lines(["  /usr/share/demo-tool/VERSION: sha256: *"])
    (baseline.parent / "app.allow").write_text(ALLOW)
    walk.run(debian_bases.upgraded).assert_outcomes(passed=1)
    assert baseline.read_text() == approved  # allowed, not rewritten

    # 5. the allow list approves upgrades only: from a 1.1-1 baseline, 1.0-1 fails
    walk.run(debian_bases.upgraded, "--imagebuild-update-baselines").assert_outcomes(passed=1)
    back = walk.run(debian_bases.bumped)
    back.assert_outcomes(failed=1)
    back.stdout.fnmatch_lines(
        ["packages (1):", "  dpkg demo-tool: 1.1-1 -> 1.0-1 (downgraded)"], consecutive=True
    )
    assert "files changed" not in back.stdout.str()  # the path rules still apply
