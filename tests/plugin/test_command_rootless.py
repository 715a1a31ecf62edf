"""``image.run`` as unprivileged users: with a subordinate id range and with a single uid."""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builder.rootless import FULL_USER, SINGLE_USER, User, ensure_user, run_as, user_dir
from tests.structure.images import app_image, build_image

pytestmark = pytest.mark.rootless

# the snippets' common start: imports, run() returning [code, stdout, stderr] or the error
PRELUDE = """
    import json, os
    from pathlib import Path
    from pytest_imagebuild.errors import SandboxError
    from pytest_imagebuild.image import Image
    from pytest_imagebuild.plugin.runner import SandboxRunner

    def run(image, command, **kwargs):
        try:
            result = image.run(command, **kwargs)
        except SandboxError as error:
            return ["error", str(error).splitlines()[0]]
        return [result.exit_code, result.stdout_text, result.stderr_text]

    cache = Path("cache").absolute()
    out = {}
"""

SNIPPET = (
    PRELUDE
    + """
    with Image.open("image.tar") as image:
        image.runner = SandboxRunner(cache)
        out["default"] = run(image, None)
        out["root"] = run(image, "id -u; echo x > /opt/app/app.conf; touch /new", user="root")
        out["fresh"] = run(image, "cat /opt/app/app.conf; ls /new", user="root")
        out["stdin"] = run(image, "tr a-z A-Z", stdin="quiet\\n", user="root")
        out["unpacks"] = image.runner.unpacks
        out["views"] = sorted(image.runner.views)
        if out["unpacks"]:
            root = image.runner.root_of(image)
            out["root_conf"] = (root / "opt/app/app.conf").read_text()
    out["runs_left"] = os.listdir(cache / "runs") if (cache / "runs").exists() else []
    print(json.dumps(out))
"""
)


ROOT_SNIPPET = (
    PRELUDE
    + """
    with Image.open("image.tar") as image:
        image.runner = SandboxRunner(cache)
        out["root"] = run(image, "id -u; echo err >&2; touch /new")
        out["fresh"] = run(image, "ls /new")
        out["as_app"] = run(image, "id -u", user="1000")
        out["unpacks"] = image.runner.unpacks
        out["views"] = sorted(image.runner.views)
    out["runs_left"] = os.listdir(cache / "runs")
    print(json.dumps(out))
"""
)


def _results_as(user: User, image_tar: Path, snippet: str = SNIPPET) -> Iterator[dict[str, Any]]:
    path = user_dir(user)
    shutil.copyfile(image_tar, path / "image.tar")
    os.chown(path / "image.tar", user.uid, user.gid)
    try:
        yield run_as(user, snippet, path, timeout=120)
    finally:
        # The unpacked root holds files of the user's subordinate ids: remove it as the user.
        run_as(
            user,
            "from pytest_imagebuild.builder.userns import remove_tree\n"
            "remove_tree('cache')\nprint('true')\n",
            path,
        )
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def image_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tar = app_image(busybox_rootfs_tar, tmp_path_factory)
    os.chmod(tar.parent, 0o755)
    os.chmod(tar, 0o644)
    return tar


@pytest.fixture(scope="module")
def full(image_tar: Path) -> Iterator[dict[str, Any]]:
    yield from _results_as(ensure_user(FULL_USER, subids=True), image_tar)


@pytest.fixture(scope="module")
def single(image_tar: Path) -> Iterator[dict[str, Any]]:
    yield from _results_as(ensure_user(SINGLE_USER, subids=False), image_tar)


def test_full_map_runs_as_the_image_user_on_an_overlay(full: dict[str, Any]) -> None:
    assert full["default"] == [0, "app serve\n", "user 1000:1000 in /opt/app\n"]
    assert full["root"] == [0, "0\n", ""]
    assert full["fresh"] == [1, "app config: port=8080\n", "ls: /new: No such file or directory\n"]
    assert full["stdin"] == [0, "QUIET\n", ""]
    assert full["root_conf"] == "app config: port=8080\n"
    assert (full["unpacks"], full["views"], full["runs_left"]) == (1, ["overlay"], [])


def test_single_uid_unpacks_other_owners_and_runs_as_root_only(single: dict[str, Any]) -> None:
    # The app image has files of uid 1000: unpacked with their owners recorded (see
    # builder/fs/owners.py). Its default user is app (1000), which a single-id namespace
    # cannot enter: the error names the missing range; root commands run.
    user = ensure_user(SINGLE_USER, subids=False)
    assert single["default"] == [
        "error",
        f"cannot run as user 1000:1000: the build runs in a single-id user namespace "
        f"(uid 0 -> {user.uid}, no /etc/subuid range for user {user.name}), where only root "
        "exists",
    ]
    assert single["root"] == [0, "0\n", ""]
    assert single["fresh"] == [
        1,
        "app config: port=8080\n",
        "ls: /new: No such file or directory\n",
    ]
    assert single["stdin"] == [0, "QUIET\n", ""]
    assert (single["unpacks"], single["views"], single["runs_left"]) == (1, ["overlay"], [])


@pytest.fixture(scope="module")
def root_owned_tar(busybox_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox root with every file owned by root, as an image."""
    work = tmp_path_factory.mktemp("root-owned")
    rootfs = work / "rootfs.tar"
    with tarfile.open(busybox_rootfs_tar) as src, tarfile.open(rootfs, "w") as out:
        for member in src.getmembers():
            member.uid = member.gid = 0
            member.uname = member.gname = "root"
            out.addfile(member, src.extractfile(member) if member.isfile() else None)
    tar = build_image(rootfs, work / "image", 'FROM scratch\nADD rootfs.tar /\nCMD ["sh"]\n', {})
    os.chmod(tar.parent, 0o755)
    os.chmod(tar, 0o644)
    return tar


def test_single_uid_runs_commands_as_root(root_owned_tar: Path) -> None:
    user = ensure_user(SINGLE_USER, subids=False)
    results = next(_results_as(user, root_owned_tar, ROOT_SNIPPET))
    assert results == {
        "root": [0, "0\n", "err\n"],
        "fresh": [1, "", "ls: /new: No such file or directory\n"],
        "as_app": [
            "error",
            f"cannot run as user 1000:1000: the build runs in a single-id user namespace "
            f"(uid 0 -> {user.uid}, no /etc/subuid range for user {user.name}), where only "
            "root exists",
        ],
        "unpacks": 1,
        "views": ["overlay"],
        "runs_left": [],
    }
