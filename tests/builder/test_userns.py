"""userns: run code as uid 0 in a user namespace, as real unprivileged users."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder import userns
from pytest_imagebuild.builder.sandbox.diagnose import userns_refused
from tests.builder.rootless import (
    FULL_USER,
    SINGLE_USER,
    User,
    ensure_user,
    remove_as,
    run_as,
    user_dir,
)

pytestmark = pytest.mark.rootless


@pytest.fixture(scope="session")
def full_user() -> User:
    return ensure_user(FULL_USER, subids=True)


@pytest.fixture(scope="session")
def single_user() -> User:
    return ensure_user(SINGLE_USER, subids=False)


@pytest.fixture
def full_dir(full_user: User) -> Iterator[Path]:
    path = user_dir(full_user)
    yield path
    remove_as(full_user, path)


@pytest.fixture
def single_dir(single_user: User) -> Iterator[Path]:
    path = user_dir(single_user)
    yield path
    remove_as(single_user, path)


CHOWN_SNIPPET = """
    import json, os
    from pytest_imagebuild.builder import userns

    def inside():
        os.makedirs("build", exist_ok=True)
        with open("build/owned", "w"):
            pass
        try:
            os.chown("build/owned", 1000, 1000)
            chown = "ok"
        except OSError as error:
            chown = error.errno
        return os.getuid(), os.getgid(), userns.current().kind, chown

    result = userns.run_in_userns(inside)
    info = os.stat("build/owned")
    print(json.dumps([*result, userns.plan().kind, info.st_uid, info.st_gid]))
"""


def test_full_map_makes_uid_0_and_maps_ids_to_subordinate_range(
    full_user: User, full_dir: Path
) -> None:
    uid, gid, kind, chown, planned, host_uid, host_gid = run_as(full_user, CHOWN_SNIPPET, full_dir)
    assert (uid, gid, kind, chown, planned) == (0, 0, "full", "ok", "full")
    assert full_user.subid_start is not None
    assert (host_uid, host_gid) == (full_user.subid_start + 999, full_user.subid_start + 999)


def test_single_map_without_subordinate_ids(single_user: User, single_dir: Path) -> None:
    uid, gid, kind, chown, planned, host_uid, _ = run_as(single_user, CHOWN_SNIPPET, single_dir)
    assert (uid, gid, kind, planned) == (0, 0, "single", "single")
    assert chown == errno.EINVAL  # uid 1000 does not exist in a single-uid namespace
    assert host_uid == single_user.uid


def test_exceptions_come_back_with_the_inner_traceback(full_user: User, full_dir: Path) -> None:
    result = run_as(
        full_user,
        """
        import json
        from pytest_imagebuild.builder import userns

        def fail():
            raise KeyError("inside")

        try:
            userns.run_in_userns(fail)
        except KeyError as error:
            print(json.dumps([str(error), "".join(getattr(error, "__notes__", []))]))
    """,
        full_dir,
    )
    message, notes = result
    assert message == "'inside'"
    assert "in the user namespace" in notes
    assert "raise KeyError" in notes


def test_forcing_full_without_subordinate_ids_explains_the_remedy(
    single_user: User, single_dir: Path
) -> None:
    result = run_as(
        single_user,
        """
        import json
        from pytest_imagebuild.builder import userns
        from pytest_imagebuild.errors import SandboxError
        try:
            userns.run_in_userns(lambda: 1, kind="full")
        except SandboxError as error:
            print(json.dumps(str(error)))
    """,
        single_dir,
    )
    assert "no subordinate ids" in str(result)
    assert "usermod --add-subuids" in str(result)


def test_remove_tree_deletes_files_of_subordinate_ids(full_user: User, full_dir: Path) -> None:
    result = run_as(
        full_user,
        """
        import json, os
        from pytest_imagebuild.builder import userns

        def populate():
            os.makedirs("build/root/locked/deep")
            with open("build/root/locked/deep/file", "w"):
                pass
            os.chown("build/root/locked/deep/file", 1000, 1000)
            os.chown("build/root/locked/deep", 1000, 1000)
            os.chmod("build/root/locked/deep", 0o500)
            os.chown("build/root/locked", 33, 33)
            os.chmod("build/root/locked", 0o000)

        userns.run_in_userns(populate)
        try:
            os.listdir("build/root/locked")
            readable = True
        except PermissionError:
            readable = False
        userns.remove_tree("build")
        print(json.dumps([readable, os.path.exists("build")]))
    """,
        full_dir,
    )
    assert result == [False, False]


def test_root_runs_the_function_in_process() -> None:
    assert userns.run_in_userns(os.getpid) == os.getpid()
    mapping = userns.current()
    assert mapping.kind == "none"
    assert mapping.describe() == "root, no user namespace"
    assert userns.plan().kind == "none"


def test_mapping_translates_ids() -> None:
    mapping = userns.IdMapping(
        "full",
        (userns.IdRange(0, 1001, 1), userns.IdRange(1, 200000, 65536)),
        (userns.IdRange(0, 1001, 1), userns.IdRange(1, 200000, 65536)),
    )
    assert mapping.size == 65537
    assert mapping.host_uid(0) == 1001
    assert mapping.host_uid(1000) == 200999
    assert mapping.host_gid(65536) == 265535
    assert mapping.host_uid(65537) is None
    assert mapping.describe() == "rootless user namespace, full uid map (65537 ids)"


def test_refusal_diagnosis_names_a_remedy() -> None:
    reason, hint = userns_refused(errno.EPERM)
    assert os.strerror(errno.EPERM) in reason
    assert hint
    reason, hint = userns_refused(errno.ENOSPC)
    assert "max_user_namespaces" in reason
    assert "sysctl -w user.max_user_namespaces" in hint
