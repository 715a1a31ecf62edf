"""The whole build as an unprivileged user: in a user namespace, owners kept via subuids."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.builder.rootless import (
    FULL_USER,
    SINGLE_USER,
    User,
    chown_tree,
    ensure_user,
    remove_as,
    run_as,
    user_dir,
)

pytestmark = pytest.mark.rootless


def build_as(user: User, context: Path, out: Path) -> dict[str, object]:
    code = f"""
        import json
        from pathlib import Path
        from pytest_imagebuild.builder.build import build
        from pytest_imagebuild.builder.options import BuildOptions
        from pytest_imagebuild.errors import ImageBuildError
        try:
            build(BuildOptions(context={str(context)!r}, no_push=True, tar_path=Path({str(out)!r}),
                               build_root=Path({str(out.parent / "build")!r})), verbose=False)
            print(json.dumps({{"ok": True}}))
        except ImageBuildError as exc:
            print(json.dumps({{"ok": False, "error": str(exc), "type": type(exc).__name__}}))
    """
    result: dict[str, object] = run_as(user, code, out.parent, timeout=300)
    return result


def make_context(work: Path) -> Path:
    context = work / "ctx"
    context.mkdir()
    shutil.copy2("/usr/bin/busybox", context / "busybox")
    (context / "f").write_text("f\n")
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /data && '
        "/bin/busybox echo hi > /data/x && /bin/busybox chown 1000:1000 /data/x && "
        '/bin/busybox chmod 4755 /data/x"]\n'
        "COPY --chown=2000:3000 f /f\n"
    )
    return context


def test_unprivileged_user_with_subuids_keeps_owners() -> None:
    user = ensure_user(FULL_USER, subids=True)
    work = user_dir(user)
    try:
        context = make_context(work)
        chown_tree(work, user)
        out = work / "out.tar"
        result = build_as(user, context, out)
        assert result == {"ok": True}
        with Image.open(out) as image:
            data = image.file("/data/x")
            assert (data.uid, data.gid, data.mode) == (1000, 1000, 0o4755)
            copied = image.file("/f")
            assert (copied.uid, copied.gid) == (2000, 3000)
        assert not (work / "build").exists() or not any((work / "build").iterdir())
    finally:
        remove_as(user, work)


def test_single_uid_user_keeps_copy_owners_in_the_layer() -> None:
    """No subordinate ids: COPY --chown owners are recorded, not refused (see
    test_build_single_id.py for the whole comparison with a build by root)."""
    user = ensure_user(SINGLE_USER, subids=False)
    work = user_dir(user)
    try:
        context = make_context(work)
        (context / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY --chown=2000:3000 f /f\n"
        )
        chown_tree(work, user)
        out = work / "out.tar"
        result = build_as(user, context, out)
        assert result == {"ok": True}
        with Image.open(out) as image:
            copied = image.file("/f")
            assert (copied.uid, copied.gid) == (2000, 3000)
    finally:
        remove_as(user, work)


def test_unreadable_base_layout_is_the_projects_error(tmp_path: Path) -> None:
    """A base OCI layout whose blobs the building user may not read: an error naming the
    file and the remedy, not an internal error."""

    user = ensure_user(SINGLE_USER, subids=False)
    work = user_dir(user)
    try:
        seed = work / "seed"
        seed.mkdir()
        shutil.copy2("/usr/bin/busybox", seed / "busybox")
        (seed / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
        from pytest_imagebuild.builder.build import build
        from pytest_imagebuild.builder.options import BuildOptions

        layout = work / "layout"
        build(BuildOptions(context=str(seed), no_push=True, oci_layout_path=layout), verbose=False)
        ctx = work / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM oci:{layout}\nRUN true\n")
        chown_tree(ctx, user)
        for blob in (layout / "blobs" / "sha256").iterdir():
            blob.chmod(0o600)  # root's, unreadable for the user
        result = build_as(user, ctx, work / "out.tar")
        assert result["ok"] is False
        assert result["type"] == "ImageFormatError"
        assert f"cannot read {layout}/blobs/sha256/" in str(result["error"])
        assert "Permission denied" in str(result["error"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
