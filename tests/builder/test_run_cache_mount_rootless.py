"""Cache mounts built by an unprivileged user: the directory persists with mapped owners."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from tests.builder.rootless import FULL_USER, User, chown_tree, ensure_user, run_as, user_dir

pytestmark = pytest.mark.rootless


def build_as(user: User, work: Path, dockerfile: str, name: str) -> dict[str, object]:
    context = work / f"ctx-{name}"
    context.mkdir()
    shutil.copy2("/usr/bin/busybox", context / "busybox")
    (context / "Dockerfile").write_text(dockerfile)
    chown_tree(context, user)
    out = work / f"{name}.tar"
    code = f"""
        import json
        from pathlib import Path
        from pytest_imagebuild.builder.build import build
        from pytest_imagebuild.builder.options import BuildOptions
        from pytest_imagebuild.errors import ImageBuildError
        try:
            build(BuildOptions(context={str(context)!r}, no_push=True, tar_path=Path({str(out)!r}),
                               cache_dir=Path({str(work / "cache")!r}),
                               build_root=Path({str(work / "build")!r})), verbose=False)
            print(json.dumps({{"ok": True}}))
        except ImageBuildError as exc:
            print(json.dumps({{"ok": False, "error": str(exc)}}))
    """
    result: dict[str, object] = run_as(user, code, work, timeout=300)
    return result


PREFIX = (
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
)


def test_unprivileged_builds_share_a_cache_mount() -> None:
    user = ensure_user(FULL_USER, subids=True)
    if user.subid_start is None:
        raise RuntimeError(f"{FULL_USER} has no subordinate ids")
    work = user_dir(user)
    try:
        first = PREFIX + "USER 1000\nRUN --mount=type=cache,target=/c,uid=1000 echo hi > /c/f\n"
        assert build_as(user, work, first, "one") == {"ok": True}
        second = PREFIX + "RUN --mount=type=cache,target=/c cp /c/f /seen\n"
        assert build_as(user, work, second, "two") == {"ok": True}
        with Image.open(work / "two.tar") as image:
            assert image.file("/seen").read_text() == "hi\n"
            assert image.glob("/c/**", all_layers=True) == []
        kept = work / "cache" / "mounts" / hashlib.sha256(b"/c").hexdigest() / "f"
        # uid 1000 in the build's namespace is subid_start + 999 on disk
        assert kept.stat().st_uid == user.subid_start + 999
    finally:
        run_as(
            user,
            f"""
            import json
            from pytest_imagebuild.builder.userns import remove_tree
            remove_tree({str(work / "cache")!r})
            remove_tree({str(work / "build")!r})
            print(json.dumps(True))
            """,
            work,
        )
        shutil.rmtree(work)
