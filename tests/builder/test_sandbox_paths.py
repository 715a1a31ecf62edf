"""Paths inside a stage root: resolution stays inside, stubs leave no trace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.builder.sandbox.paths import Stubs, resolve
from pytest_imagebuild.errors import SandboxError
from tests.builder.busybox_root import snapshot


def test_resolve_keeps_symlinks_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/up").symlink_to("../../../..")
    (root / "etc/abs").symlink_to("/etc")
    (root / "etc/resolv.conf").symlink_to("/run/systemd/resolve/stub-resolv.conf")
    (root / "loop").symlink_to("loop")
    assert resolve(root, "/etc/up/etc/passwd") == root / "etc/passwd"
    assert resolve(root, "etc/abs/abs/abs/hosts") == root / "etc/hosts"
    assert resolve(root, "/etc/resolv.conf") == root / "run/systemd/resolve/stub-resolv.conf"
    assert resolve(root, "/../../x/./y/..") == root / "x"
    with pytest.raises(SandboxError, match="too many levels"):
        resolve(root, "/loop/x")


def test_stubs_restore_the_root_exactly(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_text("mine\n")
    os.utime(root / "etc", ns=(1, 2))
    before = snapshot(root)
    stubs = Stubs(root)
    assert stubs.directory("/a/b/c") == root / "a/b/c"
    assert stubs.file("/etc/resolv.conf") == root / "etc/resolv.conf"
    stubs.replace("/etc/hosts", b"host copy\n")
    stubs.device("/dev/null", "/dev/null")
    assert (root / "etc/hosts").read_text() == "host copy\n"
    assert (root / "dev/null").is_char_device()
    stubs.restore()
    assert snapshot(root) == before
    assert (root / "etc/hosts").read_text() == "mine\n"


def test_stubs_keep_what_a_command_put_there(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    stubs = Stubs(root)
    stubs.directory("/run/secrets/token")
    (root / "run/secrets/other").write_text("written by the command")
    stubs.restore()
    assert sorted(p.name for p in (root / "run/secrets").iterdir()) == ["other"]


def test_environment_forces_a_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEBUILD_SANDBOX", "chroot")
    try:
        mode = sandbox.probe(refresh=True)
        assert mode.kind == "chroot"
        assert mode.describe() == (
            "root, no user namespace, chroot only, no /proc (forced); no_new_privs, seccomp"
        )
    finally:
        monkeypatch.delenv("IMAGEBUILD_SANDBOX")
        assert sandbox.probe(refresh=True).kind == "namespaces"


def test_none_mode_raises_with_hint() -> None:
    with pytest.raises(SandboxError, match="cannot run RUN instructions"):
        sandbox.run("/", ["true"], mode=sandbox.forced("none"))
