"""``RUN --mount=type=cache``: directories that persist across builds, kept out of layers."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import DockerfileError
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("base"))
    return f"oci:{layout}"


def mount_dir(cache: Path, ident: str) -> Path:
    return cache / "mounts" / hashlib.sha256(ident.encode()).hexdigest()


def build_in(work: Path, cache_dir: Path, dockerfile: str, **kwargs: object) -> Path:
    context = write_tree(work / "ctx", {"Dockerfile": dockerfile})
    out = work / "out.tar"
    options = BuildOptions(
        context=str(context),
        no_push=True,
        tar_path=out,
        cache_dir=cache_dir,
        build_root=work / "build",
        **kwargs,  # type: ignore[arg-type]
    )
    build(options, verbose=False)
    return out


def test_second_build_sees_what_the_first_wrote(base: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_in(
        tmp_path / "one",
        cache,
        f"FROM {base}\nRUN --mount=type=cache,target=/var/cache/app "
        "echo written-once > /var/cache/app/f && echo ran > /ran\n",
    )
    # another Dockerfile, and the layer cache is off: only the cache mount carries the file
    second = build_in(
        tmp_path / "two",
        cache,
        f"FROM {base}\nRUN --mount=type=cache,target=/var/cache/app "
        "cp /var/cache/app/f /seen && echo more >> /var/cache/app/f\n",
    )
    with Image.open(first) as image:
        assert image.file("/ran").exists
        assert image.glob("/var/cache/app/**", all_layers=True) == []
    with Image.open(second) as image:
        assert image.file("/seen").read_text() == "written-once\n"
        assert image.glob("/var/cache/app/**", all_layers=True) == []
    kept = mount_dir(cache, "/var/cache/app") / "f"
    assert kept.read_text() == "written-once\nmore\n"
    assert not any((tmp_path / "two" / "build").iterdir())  # the build dir went, the cache stays


def test_layer_cache_does_not_key_on_cache_contents(base: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    dockerfile = f"FROM {base}\nRUN --mount=type=cache,target=/c echo run >> /c/runs\n"
    build_in(tmp_path / "one", cache, dockerfile, cache=True)
    (mount_dir(cache, "/c") / "other").write_text("changed contents\n")
    build_in(tmp_path / "two", cache, dockerfile, cache=True)
    # the second build reused the RUN's layer: the command did not run again
    assert len((mount_dir(cache, "/c") / "runs").read_text().splitlines()) == 1


def test_id_is_shared_between_targets(base: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = build_in(
        tmp_path,
        cache,
        f"FROM {base}\n"
        "RUN --mount=type=cache,id=pkgs,target=/a echo via-a > /a/f\n"
        "RUN --mount=type=cache,id=pkgs,target=/b cp /b/f /from-b\n"
        "RUN --mount=type=cache,target=/a ls -A /a > /a-by-path\n",
    )
    with Image.open(out) as image:
        assert image.file("/from-b").read_text() == "via-a\n"
        assert image.file("/a-by-path").read_text() == ""  # id /a is another cache
    assert (mount_dir(cache, "pkgs") / "f").read_text() == "via-a\n"


def test_mode_owner_and_seed_from_a_stage(base: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = build_in(
        tmp_path,
        cache,
        f"FROM {base} AS seed\nRUN mkdir -p /seed && echo seeded > /seed/s\n"
        f"FROM {base}\n"
        "RUN --mount=type=cache,target=/c,uid=1000,gid=2000,mode=0750 "
        "stat -c %u:%g:%a /c > /owner\n"
        "RUN --mount=type=cache,target=/s,from=seed,source=/seed cat /s/s > /got\n"
        "USER 1000\nRUN --mount=type=cache,target=/c touch /c/mine\n",
    )
    with Image.open(out) as image:
        assert image.file("/owner").read_text() == "1000:2000:750\n"
        assert image.file("/got").read_text() == "seeded\n"
    assert (mount_dir(cache, "/c") / "mine").stat().st_uid == 1000


def test_private_gets_a_fresh_directory_while_the_cache_is_held(base: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_in(tmp_path / "one", cache, f"FROM {base}\nRUN --mount=type=cache,target=/c touch /c/x\n")
    lock = os.open(mount_dir(cache, "/c").with_suffix(".lock"), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as another build holding it with sharing=locked
        out = build_in(
            tmp_path / "two",
            cache,
            f"FROM {base}\nRUN --mount=type=cache,target=/c,sharing=private "
            "ls -A /c > /listing && touch /c/private-only\n",
        )
    finally:
        os.close(lock)
    with Image.open(out) as image:
        assert image.file("/listing").read_text() == ""
    assert sorted(os.listdir(mount_dir(cache, "/c"))) == ["x"]


def test_bad_sharing_is_a_dockerfile_error(base: str, tmp_path: Path) -> None:
    with pytest.raises(DockerfileError, match="invalid cache sharing 'sometimes'"):
        build_in(
            tmp_path,
            tmp_path / "cache",
            f"FROM {base}\nRUN --mount=type=cache,target=/c,sharing=sometimes true\n",
        )
