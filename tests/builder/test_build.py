"""End-to-end builds with the executor alone (no daemon), read back with the read side."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import BuildError, ContextError, DockerfileError, UsageError
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.support.httpfiles import serve_directory


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("base"))
    return f"oci:{layout}"


def run_build(
    tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None, **kwargs: object
) -> Path:
    context = write_tree(tmp_path / "ctx", {**(files or {}), "Dockerfile": dockerfile})
    out = tmp_path / "out.tar"
    options = BuildOptions(context=str(context), no_push=True, tar_path=out, **kwargs)  # type: ignore[arg-type]
    build(options, verbose=False)
    return out


def test_run_user_workdir_heredoc_and_env(base: str, tmp_path: Path) -> None:
    out = run_build(
        tmp_path,
        f"FROM {base}\nARG V=1\nENV E=env\nWORKDIR /w\nUSER app\n"
        "RUN id -u > /tmp/uid && pwd > /tmp/pwd && echo $V$E > /tmp/ve\n"
        "USER root\nRUN <<EOF\necho heredoc > /h\nEOF\n",
    )
    with Image.open(out) as image:
        assert image.file("/tmp/uid").read_text() == "1000\n"
        assert image.file("/tmp/pwd").read_text() == "/w\n"
        assert image.file("/tmp/ve").read_text() == "1env\n"
        assert image.file("/tmp/uid").uid == 1000
        assert image.file("/h").read_text() == "heredoc\n"
        assert image.history[-1].created_by.startswith("|1 V=1 /bin/sh -c ")


def test_failing_run_reports_line_command_code_and_tail(base: str, tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        run_build(tmp_path, f"FROM {base}\nRUN echo first\nRUN echo oops >&2; exit 42\n")
    error = info.value
    assert error.exit_code == 42
    assert error.location is not None
    assert error.location.line == 3
    assert "oops" in error.output_tail
    assert "exit 42" in str(error)
    assert not (tmp_path / "out.tar").exists()
    assert not list(tmp_path.glob(".out.tar*"))


@pytest.mark.parametrize(
    ("dockerfile", "error", "line"),
    [
        ("FROM scratch\nCOPY missing /x\n", BuildError, 2),
        ("FROM scratch\nFROBNICATE x\n", DockerfileError, 2),
        ("FROM scratch\nCOPY ../up /x\n", ContextError, 2),
        ("FROM scratch\nHEALTHCHECK --interval=bad CMD x\n", DockerfileError, 2),
    ],
)
def test_bad_input_points_at_the_dockerfile_line(
    tmp_path: Path, dockerfile: str, error: type[Exception], line: int
) -> None:
    with pytest.raises(error) as info:
        run_build(tmp_path, dockerfile)
    location = getattr(info.value, "location", None)
    assert location is not None
    assert location.line == line
    assert location.path.endswith("Dockerfile")
    assert not (tmp_path / "out.tar").exists()


def test_secrets_never_reach_layers_config_or_history(base: str, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value")
    out = run_build(
        tmp_path,
        f"FROM {base}\n"
        "RUN --mount=type=secret,id=tok grep -q value /run/secrets/tok && echo used > /used\n",
        secrets=(("tok", secret),),
    )
    with Image.open(out) as image:
        assert image.file("/used").exists
        assert not image.glob("/run/secrets/**", all_layers=True)
        for layer in range(len(image.layers)):
            for entry in image.layer_files(layer):
                if entry.is_file:
                    assert not entry.contains("s3cr3t-value")
        assert "s3cr3t" not in json.dumps(image.config)


def test_cache_tmpfs_and_bind_mounts(base: str, tmp_path: Path) -> None:
    out = run_build(
        tmp_path,
        f"FROM {base} AS src\nRUN echo from-stage > /made\n"
        f"FROM {base}\n"
        "RUN --mount=type=cache,target=/cache echo 1 > /cache/one\n"
        "RUN --mount=type=cache,target=/cache cp /cache/one /kept\n"
        "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && ls /scratch > /listed\n"
        "RUN --mount=type=bind,from=src,source=/made,target=/m cp /m /bound\n"
        "RUN --mount=type=bind,source=data.txt,target=/d.txt cp /d.txt /ctxdata\n",
        {"data.txt": "ctx\n"},
    )
    with Image.open(out) as image:
        assert image.file("/kept").read_text() == "1\n"
        assert image.file("/listed").read_text() == "t\n"
        assert image.file("/bound").read_text() == "from-stage\n"
        assert image.file("/ctxdata").read_text() == "ctx\n"
        assert not image.file("/cache/one").exists
        assert not image.file("/scratch/t").exists


def test_target_skip_unused_single_snapshot_labels_and_outputs(base: str, tmp_path: Path) -> None:
    dockerfile = (
        f"FROM {base} AS one\nRUN echo 1 > /one\n"
        f"FROM {base} AS Two\nCOPY --from=one /one /one\nRUN echo 2 > /two\nRUN echo 3 > /three\n"
        f"FROM {base} AS three\nRUN exit 1\n"
    )
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    options = BuildOptions(
        context=str(context),
        no_push=True,
        tar_path=tmp_path / "two.tar",
        oci_layout_path=tmp_path / "layout",
        digest_file=tmp_path / "digest",
        target="two",
        skip_unused_stages=True,
        single_snapshot=True,
        labels=(("org.example.built-by", "imagebuild"),),
        destinations=("registry.example/app:1",),
    )
    result = build(options, verbose=False)
    assert result.stages == ("one", "two")
    assert (tmp_path / "digest").read_text() == result.manifest_digest
    with Image.open(tmp_path / "two.tar") as image, Image.open(tmp_path / "layout") as layout:
        assert image.labels["org.example.built-by"] == "imagebuild"
        assert image.repo_tags == ("registry.example/app:1",)
        assert len(image.layers) == 2  # base + one snapshot of the whole stage
        assert image.file("/three").exists
        assert image.file("/one").exists
        assert layout.id == image.id


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="could not be found"):
        run_build(tmp_path, "FROM scratch AS a\n", target="b")


@pytest.fixture
def http_files(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()

    with serve_directory(served) as url:
        yield url, served


def test_add_url_with_checksum(tmp_path: Path, http_files: tuple[str, Path]) -> None:
    url, served = http_files
    (served / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    digest = hashlib.sha256((served / "tool.sh").read_bytes()).hexdigest()
    out = run_build(tmp_path, f"FROM scratch\nADD --checksum=sha256:{digest} {url}/tool.sh /opt/\n")
    with Image.open(out) as image:
        tool = image.file("/opt/tool.sh")
        assert tool.read_text() == "#!/bin/sh\necho tool\n"
        assert tool.mode == 0o600
    with pytest.raises(DockerfileError, match="checksum mismatch"):
        run_build(
            tmp_path / "bad", f"FROM scratch\nADD --checksum=sha256:{'0' * 64} {url}/tool.sh /x\n"
        )
