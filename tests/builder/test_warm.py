"""Warm builds: a build whose steps all come from the cache unpacks nothing; a miss makes the
root as of the step before it; the images equal those of cold builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import BuildResult, build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.cli import make_parser, options_from_args
from pytest_imagebuild.errors import BuildError
from pytest_imagebuild.image import Image
from tests.builder.build_support import config_view, file_table, make_base, write_tree

UNPACKED = "stage root: unpacking"

STEPS = """\
FROM {base}
ENV APP=/app
WORKDIR /app/data
RUN od -An -tx1 -N8 /dev/urandom > /one
RUN mkdir -p /var/app && echo two > /var/app/two && rm /etc/group
COPY f /app/f
RUN {last}
CMD ["sh"]
"""


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("warm-base"))
    return f"oci:{layout}"


def warm_build(
    context: Path, work: Path, cache: Path, **kwargs: object
) -> tuple[BuildResult, str, Path]:
    """A build with ``--cache``; its result, its log and its (kept) build directory."""
    work.mkdir(parents=True)
    settings: dict[str, object] = {"cache_copy_layers": True, **kwargs}
    options = BuildOptions(
        context=str(context),
        no_push=True,
        tar_path=work / "out.tar",
        oci_layout_path=work / "layout",
        cache=cache is not None,
        cache_dir=cache,
        build_root=work / "build",
        keep_build_dir=True,
        **settings,  # type: ignore[arg-type]
    )
    result = build(options, verbose=False)
    (kept,) = (work / "build").iterdir()
    return result, (kept / "build.log").read_text(), kept


def steps(base: str, last: str) -> dict[str, str]:
    return {"Dockerfile": STEPS.format(base=base, last=last), "f": "file\n"}


def test_unchanged_rebuild_unpacks_nothing_and_is_the_same_image(base: str, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", steps(base, "cat /one /app/f > /last"))
    cache = tmp_path / "cache"
    first, first_log, first_dir = warm_build(context, tmp_path / "1", cache)
    assert UNPACKED in first_log
    assert (first_dir / "stages" / "0" / "one").is_file()
    second, second_log, second_dir = warm_build(context, tmp_path / "2", cache)
    assert UNPACKED not in second_log
    assert not (second_dir / "stages").exists()  # no stage root was made at all
    assert second.cache_stats is not None
    assert (second.cache_stats.local_hits, second.cache_stats.misses) == (4, 0)
    assert second.manifest_digest == first.manifest_digest
    assert second.image_id == first.image_id
    assert (tmp_path / "2" / "out.tar").read_bytes() == (tmp_path / "1" / "out.tar").read_bytes()
    with Image.open(tmp_path / "2" / "layout") as layout, Image.open(first.tar_path) as image:
        assert layout.file("/last").read_bytes() == image.file("/one").read_bytes() + b"file\n"
        assert file_table(layout) == file_table(image)


def test_a_changed_last_run_runs_only_it_on_the_cached_root(base: str, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", steps(base, "cat /one > /last"))
    cache = tmp_path / "cache"
    first, _, _ = warm_build(context, tmp_path / "1", cache)
    changed = "cat /one /app/f /var/app/two > /last; ls /etc > /etc-list; ls -d /app/data"
    write_tree(context, steps(base, changed))
    warm, log, kept = warm_build(context, tmp_path / "2", cache)
    assert warm.cache_stats is not None
    assert (warm.cache_stats.local_hits, warm.cache_stats.misses) == (3, 1)
    # the root is made once, as of the step before the miss: base, WORKDIR, RUN, RUN, COPY
    assert log.count(UNPACKED) == 1
    assert f"{UNPACKED} 5 layers" in log
    assert (kept / "stages" / "0" / "last").is_file()
    cold, _, _ = warm_build(context, tmp_path / "3", tmp_path / "cold-cache")
    with (
        Image.open(first.tar_path) as old,
        Image.open(warm.tar_path) as image,
        Image.open(cold.tar_path) as fresh,
    ):
        one = old.file("/one").read_bytes()
        assert image.file("/one").read_bytes() == one  # from the cache, not run again
        assert image.file("/last").read_bytes() == one + b"file\ntwo\n"
        assert "group" not in image.file("/etc-list").read_text().split()
        assert len(image.layers) == len(fresh.layers)
        # a cold build of the changed Dockerfile: the same files (the random bytes aside)
        ignore = {"/one", "/last"}
        table, fresh_table = file_table(image), file_table(fresh)
        assert {k: v for k, v in table.items() if k not in ignore} == {
            k: v for k, v in fresh_table.items() if k not in ignore
        }
        assert table.keys() == fresh_table.keys()
        assert config_view(image) == config_view(fresh)
        assert [h.created_by for h in image.history] == [h.created_by for h in fresh.history]


MULTI = """\
FROM {base} AS maker
RUN od -An -tx1 -N8 /dev/urandom > /made && mkdir /out && cp /made /out/made
FROM {base} AS unused
RUN exit 1
FROM {base}
COPY --from=maker /out/ /from-maker/
RUN {last}
"""


def test_multi_stage_copy_from_a_cached_stage(base: str, tmp_path: Path) -> None:
    context = write_tree(
        tmp_path / "ctx", {"Dockerfile": MULTI.format(base=base, last="cat /from-maker/made")}
    )
    cache = tmp_path / "cache"
    first, _, _ = warm_build(context, tmp_path / "1", cache)
    assert first.stages == ("maker", "2")  # the unused stage is skipped by default
    again, log, kept = warm_build(context, tmp_path / "2", cache)
    assert UNPACKED not in log
    assert not (kept / "stages").exists()
    assert again.manifest_digest == first.manifest_digest
    # the final RUN changes: its stage is made from cached layers; maker's root is not needed
    write_tree(context, {"Dockerfile": MULTI.format(base=base, last="cp /from-maker/made /x")})
    changed, log, kept = warm_build(context, tmp_path / "3", cache)
    assert not (kept / "stages" / "0").exists()
    assert (kept / "stages" / "2" / "x").is_file()
    # COPY layers not cached: COPY --from runs and reads maker's root, made from its cache
    plain, log, kept = warm_build(context, tmp_path / "4", cache, cache_copy_layers=False)
    assert (kept / "stages" / "0" / "out" / "made").is_file()
    with (
        Image.open(first.tar_path) as one,
        Image.open(changed.tar_path) as two,
        Image.open(plain.tar_path) as three,
    ):
        made = one.file("/from-maker/made").read_bytes()
        assert two.file("/x").read_bytes() == made
        assert three.file("/x").read_bytes() == made
        assert three.file("/from-maker/made").read_bytes() == made


def test_skip_unused_stages_false_builds_every_stage(base: str, tmp_path: Path) -> None:
    context = write_tree(
        tmp_path / "ctx", {"Dockerfile": MULTI.format(base=base, last="cat /from-maker/made")}
    )
    with pytest.raises(BuildError) as failed:
        warm_build(context, tmp_path / "1", None, skip_unused_stages=False)  # type: ignore[arg-type]
    assert "RUN exit 1" in str(failed.value)


def test_the_command_skips_unused_stages_unless_told_false() -> None:
    parse = make_parser().parse_args
    env: dict[str, str] = {}
    assert options_from_args(parse(["--no-push"]), env).skip_unused_stages is True
    told = parse(["--no-push", "--skip-unused-stages=false"])
    assert options_from_args(told, env).skip_unused_stages is False
    assert options_from_args(parse(["--no-push", "--skip-unused-stages"]), env).skip_unused_stages
    sized = parse(["--no-push", "--root-store-size", "512M"])
    assert options_from_args(sized, env).root_store_size == 512 << 20
