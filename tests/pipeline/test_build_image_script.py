"""scripts/build-image refuses what it cannot use before it starts a build."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-image"


def test_an_unreadable_ca_bundle_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    done = subprocess.run(
        [str(SCRIPT), "--ca-bundle", str(missing), "--no-push", "--tar-path", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot read the CA bundle {missing}" in done.stderr
    assert "--ca-bundle none" in done.stderr
    assert not (tmp_path / "x").exists()


def test_an_option_without_its_value_is_refused() -> None:
    done = subprocess.run(
        [str(SCRIPT), "--base"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "--base needs an image" in done.stderr
