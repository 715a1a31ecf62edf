"""Named build contexts (``--build-context``) in the embedded executor.

Docker's legacy builder, the reference builder these tests can run here, has no named
contexts (``docker build`` without BuildKit refuses ``--build-context``) and BuildKit is not
available on this machine. So the reference is the executor itself: a build whose ``FROM``
is replaced by ``docker-image://REF`` must equal the build of the same Dockerfile written
with ``FROM REF``, file by file and key by key.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.contexts import NamedContexts
from pytest_imagebuild.builder.dockerfile import parse_file
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.plan import Plan, make_plan
from pytest_imagebuild.cli import main
from pytest_imagebuild.errors import BuildError, DockerfileError, RegistryError, UsageError
from pytest_imagebuild.image import Image
from tests.builder.build_support import config_view, file_table, make_base, write_tree
from tests.support.registry import RegistryFactory, RunningRegistry
from tests.support.registry_images import add_image, add_index


@dataclass(frozen=True)
class Bases:
    """Two variants of the busybox base in a loopback registry, and the base as a layout."""

    registry: RunningRegistry
    plain: str  # host/base:1
    variant: str  # host/base:2, the same plus /variant.txt
    plain_digest: str
    layout: Path


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Bases]:
    work = tmp_path_factory.mktemp("ctx-bases")
    factory = RegistryFactory(work / "registries")
    try:
        reg = factory()
        _, layout = make_base(busybox_rootfs, work)
        plain_dir = write_tree(work / "p", {"Dockerfile": f"FROM oci:{layout}\n"})
        plain = build(
            BuildOptions(context=str(plain_dir), destinations=(f"{reg.host}/base:1",)),
            verbose=False,
        )
        variant_dir = write_tree(
            work / "v",
            {"Dockerfile": f"FROM oci:{layout}\nCOPY variant.txt /\n", "variant.txt": "two\n"},
        )
        build(
            BuildOptions(context=str(variant_dir), destinations=(f"{reg.host}/base:2",)),
            verbose=False,
        )
        yield Bases(reg, f"{reg.host}/base:1", f"{reg.host}/base:2", plain.manifest_digest, layout)
    finally:
        factory.stop_all()


def _build(tmp: Path, name: str, dockerfile: str, **options: object) -> Image:
    context = write_tree(tmp / name, {"Dockerfile": dockerfile})
    out = tmp / f"{name}.tar"
    build(
        BuildOptions(context=str(context), no_push=True, tar_path=out, **options),  # type: ignore[arg-type]
        verbose=False,
    )
    return Image.open(out)


def test_a_from_replaced_by_two_variants_diffs_to_the_variant(bases: Bases, tmp_path: Path) -> None:
    """debian:12.7 replaced by each variant; the RUN's cache key follows the replacing image,
    so the second build cannot take the first one's layer (its listing would lack the file)."""
    dockerfile = "FROM debian:12.7\nRUN ls / > /listing\n"
    cache = {"cache": True, "cache_dir": tmp_path / "cache"}
    on_a = (("debian:12.7", f"docker-image://{bases.plain}"),)
    on_b = (("debian:12.7", f"docker-image://{bases.variant}"),)
    with (
        _build(tmp_path, "a", dockerfile, build_contexts=on_a, **cache) as a,
        _build(tmp_path, "b", dockerfile, build_contexts=on_b, **cache) as b,
    ):
        assert "variant.txt" not in a.file("/listing").read_text()
        assert "variant.txt" in b.file("/listing").read_text()
        changes = a.diff(b, ignore=["/listing"], semantic=True)
        assert [e.path for e in changes.added] == ["/variant.txt"]
        assert (changes.removed, changes.changed, changes.config) == ((), (), ())


def test_the_replaced_build_equals_the_build_of_the_reference_itself(
    bases: Bases, tmp_path: Path
) -> None:
    created = {"created": "2021-01-01T00:00:00Z"}
    pinned = f"{bases.registry.host}/base@{bases.plain_digest}"
    with (
        _build(tmp_path, "named", "FROM base\nRUN echo x > /x\n",
               build_contexts=(("base", f"docker-image://{pinned}"),), **created) as named,
        _build(tmp_path, "direct", f"FROM {pinned}\nRUN echo x > /x\n", **created) as direct,
    ):  # fmt: skip
        assert file_table(named) == file_table(direct)
        assert config_view(named) == config_view(direct)
        assert named.file("/x").read_text() == "x\n"


def test_names_match_as_buildkit_matches_them(bases: Bases, tmp_path: Path) -> None:
    """docker.io/library/alpine:latest is 'alpine'; --from of an image name is replaced; a
    stage named like a context is replaced whole (its RUN never runs)."""
    dockerfile = (
        "FROM docker.io/library/alpine:latest AS tools\n"
        "RUN touch /stage-ran\n"
        "FROM alpine\n"
        "COPY --from=tools /variant.txt /from-stage\n"
        "COPY --from=busybox:9 /variant.txt /from-image\n"
    )
    contexts = (
        ("alpine", f"docker-image://{bases.plain}"),
        ("tools", f"docker-image://{bases.variant}"),
        ("busybox:9", f"docker-image://{bases.variant}"),
    )
    with _build(tmp_path, "m", dockerfile, build_contexts=contexts) as image:
        assert image.file("/from-stage").read_text() == "two\n"
        assert image.file("/from-image").read_text() == "two\n"
        assert not image.file("/variant.txt").exists
        assert not image.file("/stage-ran").exists


def test_oci_layout_by_tag_and_by_digest(bases: Bases, tmp_path: Path) -> None:
    index = (bases.layout / "index.json").read_text()
    digest = index.split('"digest": "', 1)[1].split('"', 1)[0] if '"digest": "' in index else ""
    digest = digest or index.split('"digest":"', 1)[1].split('"', 1)[0]
    for name, value in (
        ("tag", f"oci-layout://{bases.layout}:1"),
        ("digest", f"oci-layout://{bases.layout}@{digest}"),
        ("plain", f"oci-layout://{bases.layout}"),
    ):
        with _build(tmp_path, name, "FROM base\nRUN echo ok > /ok\n",
                    build_contexts=(("base", value),)) as image:  # fmt: skip
            assert image.file("/ok").read_text() == "ok\n"
            assert image.file("/bin/busybox").is_file
    with pytest.raises(UsageError, match="not an OCI layout"):
        _build(
            tmp_path, "none", "FROM base\n", build_contexts=(("base", "oci-layout:///nonexistent"),)
        )


def test_oci_layout_digest_of_an_index_takes_the_platforms_entry(tmp_path: Path) -> None:
    """The index is reached by digest alone (index.json does not list it); each platform's
    build gets its own entry, verified against the digests on the way."""
    layout = tmp_path / "multi"
    store = BlobStore(layout)
    entries = []
    for plat in ("linux/amd64", "linux/arm64"):
        data, kind = add_image(store, [{"arch.txt": plat.encode()}], platform=plat)
        entries.append((data, kind, plat))
    index, _ = add_index(store, entries)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    value = f"oci-layout://{layout}@sha256:{hashlib.sha256(index).hexdigest()}"
    for plat in ("linux/amd64", "linux/arm64"):
        name = plat.replace("/", "-")
        contexts = (("base", value),)
        with _build(
            tmp_path, name, "FROM base\n", build_contexts=contexts, custom_platform=plat
        ) as image:
            assert image.file("/arch.txt").read_text() == plat
            assert image.architecture == plat.split("/")[1]
    missing = f"oci-layout://{layout}@sha256:{'0' * 64}"
    with pytest.raises(RegistryError, match="has no manifest or index"):
        _build(tmp_path, "missing", "FROM base\n", build_contexts=(("base", missing),))


def _directory(root: Path) -> Path:
    files = {"a.txt": "a\n", "secret.txt": "s\n", "sub/b.txt": "b\n"}
    write_tree(root, {**files, ".dockerignore": "secret.txt\n"})
    os.symlink("/etc", root / "hostetc")
    return root


def test_directory_context_copy_and_mount_with_its_dockerignore(
    bases: Bases, tmp_path: Path
) -> None:
    extra = _directory(tmp_path / "extra")
    dockerfile = (
        "FROM base\n"
        "COPY --from=extra . /extra/\n"
        "RUN --mount=from=extra,target=/mnt,rw=true ls -a /mnt > /mounted && touch /mnt/new\n"
    )
    contexts = (("base", f"docker-image://{bases.plain}"), ("extra", str(extra)))
    with _build(tmp_path, "d", dockerfile, build_contexts=contexts) as image:
        assert image.file("/extra/a.txt").read_text() == "a\n"
        assert image.file("/extra/sub/b.txt").uid == 0
        assert not image.file("/extra/secret.txt").exists
        assert image.file("/extra/hostetc").linked_to == "/etc"  # a link, never followed
        mounted = image.file("/mounted").read_text().split()
        assert "a.txt" in mounted
        assert "secret.txt" not in mounted
    assert sorted(os.listdir(extra)) == [".dockerignore", "a.txt", "hostetc", "secret.txt", "sub"]


def test_directory_context_symlink_to_etc_yields_nothing_from_the_host(
    bases: Bases, tmp_path: Path
) -> None:
    extra = _directory(tmp_path / "extra")
    contexts = (("base", f"docker-image://{bases.plain}"), ("extra", str(extra)))
    with pytest.raises(BuildError, match="hostetc/passwd"):
        _build(tmp_path, "c", "FROM base\nCOPY --from=extra hostetc/passwd /p\n",
               build_contexts=contexts)  # fmt: skip
    with pytest.raises(BuildError, match="nothing matches") as caught:  # not even a host name
        _build(tmp_path, "g", "FROM base\nCOPY --from=extra hostetc/pass* /p/\n",
               build_contexts=contexts)  # fmt: skip
    assert "passwd" not in str(caught.value)
    with pytest.raises(DockerfileError, match="does not exist"):
        _build(tmp_path, "r", "FROM base\nRUN --mount=from=extra,source=hostetc/passwd,"
               "target=/p cat /p > /leak\n", build_contexts=contexts)  # fmt: skip


def test_directory_context_cannot_be_a_base(bases: Bases, tmp_path: Path) -> None:
    with pytest.raises(DockerfileError, match="is a directory") as caught:
        _build(tmp_path, "f", "FROM extra\n", build_contexts=(("extra", str(tmp_path)),))
    assert caught.value.location is not None
    assert caught.value.location.line == 1


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("noequals", "expected name=value"),
        ("=docker-image://x", "expected name=value"),
        ("a=", "expected name=value"),
        ("a=https://example.com/ctx.tar", "https contexts are not supported"),
        ("a=git@github.com:o/r.git", "git contexts are not supported"),
        ("a=target:other", "target contexts are not supported"),
        ("a=s3://bucket/x", "s3:// contexts are not supported"),
        ("a=/nonexistent/dir", "is not a directory"),
        ("a=docker-image://Upper/Case", "must be lowercase"),
        ("a=oci-layout:///nonexistent", "not an OCI layout"),
        ("Bad Name=docker-image://x", "is not an image or stage name"),
        ("a::linux=docker-image://x", "bad platform"),
    ],
)
def test_malformed_flags_end_in_the_projects_error(
    flag: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path, {"Dockerfile": "FROM scratch\n"})
    code = main(["--context", str(tmp_path), "--no-push", "--build-context", flag])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("imagebuild: error: invalid --build-context")
    assert message in err
    assert "hint:" in err
    assert "Traceback" not in err


def test_run_mount_of_a_directory_context_is_part_of_the_step_key(
    bases: Bases, tmp_path: Path
) -> None:
    extra = write_tree(tmp_path / "extra", {"k.txt": "one\n"})
    dockerfile = "FROM base\nRUN --mount=from=extra,target=/m cat /m/k.txt > /k\n"
    options = {
        "build_contexts": (("base", f"docker-image://{bases.plain}"), ("extra", str(extra))),
        "cache": True,
        "cache_dir": tmp_path / "cache",
    }
    with _build(tmp_path, "one", dockerfile, **options) as image:
        assert image.file("/k").read_text() == "one\n"
    (extra / "k.txt").write_text("two\n")
    with _build(tmp_path, "two", dockerfile, **options) as image:
        assert image.file("/k").read_text() == "two\n"


def test_run_mount_from_a_stage_is_part_of_the_step_key(bases: Bases, tmp_path: Path) -> None:
    """The same rule for a stage: the bind's stage key enters the RUN's key."""
    dockerfile = (
        f"FROM {bases.plain} AS src\nARG V\nRUN echo $V > /v\n"
        f"FROM {bases.plain}\nRUN --mount=from=src,target=/m cat /m/v > /k\n"
    )
    cache = {"cache": True, "cache_dir": tmp_path / "cache"}
    for value in ("one", "two"):
        with _build(tmp_path, value, dockerfile, build_args=(("V", value),), **cache) as image:
            assert image.file("/k").read_text() == value + "\n"


def _plan(text: str, tmp_path: Path) -> Plan:
    (tmp_path / "Dockerfile").write_text(text)
    return make_plan(parse_file(tmp_path / "Dockerfile"), target_platform="linux/amd64")


def test_lookup_names_are_shortened_and_platform_names_come_first(tmp_path: Path) -> None:
    named = NamedContexts.parse(
        [
            ("debian:latest", "docker-image://r/any:1"),
            ("debian::linux/arm64", "docker-image://r/arm:1"),
            ("127.0.0.1:5000/app:2", "docker-image://r/app:3"),
        ]
    )
    found = named.find("docker.io/library/debian:latest", "linux/amd64")
    assert found is not None
    assert found.source == "r/any:1"
    arm = named.find("debian", "linux/arm64")
    assert arm is not None
    assert arm.source == "r/arm:1"
    assert named.find("debian:12", "linux/amd64") is None
    assert named.find("127.0.0.1:5000/app:2", "linux/amd64") is not None
    assert named.find("oci:/some/layout", "linux/amd64") is None


def test_apply_replaces_named_stages_whole_and_keeps_stage_references(tmp_path: Path) -> None:
    plan = _plan("FROM a AS tools\nRUN x\nFROM tools\nCOPY --from=img:1 / /\n", tmp_path)
    named = NamedContexts.parse(
        [("tools", "docker-image://r/tools:1"), ("img:1", "docker-image://r/img:2")]
    )
    applied, directories = named.apply(plan, "linux/amd64")
    tools, final = applied.stages
    assert (tools.base, tools.instructions, tools.deps) == ("r/tools:1", (), frozenset())
    assert final.base_stage == 0  # FROM tools follows the (replaced) stage
    assert final.images == ("r/img:2",)
    assert directories == {}
    with pytest.raises(UsageError, match="target stage 'tools' is replaced by the directory"):
        NamedContexts.parse([("tools", str(tmp_path))]).apply(
            _plan("FROM a AS tools\n", tmp_path), "linux/amd64"
        )


def test_docker_legacy_builder_has_no_named_contexts(tmp_path: Path) -> None:
    """Why the reference here is the executor itself: docker's legacy builder refuses the
    flag before it asks any daemon."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("docker is missing: apt-get install docker.io", pytrace=False)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    argv = [docker, "build", "--build-context", "a=docker-image://x", str(tmp_path)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 125
    assert "unknown flag: --build-context" in done.stderr
