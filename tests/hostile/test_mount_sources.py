"""RUN --mount sources resolve inside the root they come from: a context or stage symlink that
points at the host never brings a host file into the build, in either sandbox mode; and a bind
of the context hides what .dockerignore excludes, as COPY does."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base

CANARY = "host-secret-7f3a9c"


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    _, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("base"))
    return f"oci:{layout}"


@pytest.fixture(params=["namespaces", "chroot"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IMAGEBUILD_SANDBOX", request.param)
    return str(request.param)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A context whose links point at a host directory holding a secret."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "token").write_text(CANARY + "\n")
    context = tmp_path / "context"
    (context / "dir").mkdir(parents=True)
    (context / "data").symlink_to(host)  # absolute, to the host
    (context / "up").symlink_to("../host")  # relative, out of the context
    (context / "dir" / "token").symlink_to("../../host/token")
    (context / "kept.txt").write_text("kept\n")
    (context / "secret.txt").write_text("ignored\n")
    (context / "dir" / "secret.txt").write_text("ignored\n")
    (context / ".dockerignore").write_text("secret.txt\n**/secret.txt\n")
    return context


def build_image(context: Path, dockerfile: str, work: Path) -> Image | ImageBuildError:
    (context / "Dockerfile").write_text(dockerfile)
    out = work / "out.tar"
    try:
        build(
            BuildOptions(
                context=str(context), no_push=True, tar_path=out, build_root=work / "build"
            ),
            verbose=False,
        )
    except ImageBuildError as error:
        assert not out.exists()
        return error
    return Image.open(out)


def assert_no_canary(result: Image | ImageBuildError) -> None:
    if isinstance(result, Image):
        with result:
            leaked = [f.path for f in result.walk() if f.is_file and f.contains(CANARY)]
        assert leaked == []
    else:
        assert CANARY not in str(result)


@pytest.mark.parametrize(
    "source",
    ["data", "data/token", "up/token", "dir/token", "dir/../data/token", "../host/token"],
)
def test_a_context_link_to_the_host_is_not_followed_on_the_host(
    base: str, hostile: Path, tmp_path: Path, mode: str, source: str
) -> None:
    result = build_image(
        hostile,
        f"FROM {base}\n"
        f"RUN --mount=type=bind,source={source},target=/mnt cat /mnt /mnt/token > /leak 2>&1;"
        " true\n",
        tmp_path,
    )
    assert_no_canary(result)
    if isinstance(result, ImageBuildError):
        assert "does not exist" in result.message


def test_a_stage_link_resolves_inside_the_stage(
    base: str, hostile: Path, tmp_path: Path, mode: str
) -> None:
    host = hostile.parent / "host"
    result = build_image(
        hostile,
        f"FROM {base} AS one\n"
        f"RUN mkdir -p {host} && echo stage-own > {host}/token && ln -s {host} /escape\n"
        f"FROM {base}\n"
        "RUN --mount=type=bind,from=one,source=escape,target=/mnt cat /mnt/token > /seen\n"
        "RUN --mount=type=cache,from=one,source=escape,target=/c,id=x cat /c/token > /cached\n",
        tmp_path,
    )
    assert isinstance(result, Image), result
    assert result.file("seen").read_text() == "stage-own\n"
    assert result.file("cached").read_text() == "stage-own\n"
    assert_no_canary(result)


def test_a_context_bind_hides_what_dockerignore_excludes(
    base: str, hostile: Path, tmp_path: Path, mode: str
) -> None:
    result = build_image(
        hostile,
        f"FROM {base}\n"
        "RUN --mount=type=bind,target=/ctx find /ctx | sort > /ro\n"
        "RUN --mount=type=bind,target=/ctx,rw find /ctx | sort > /rw && touch /ctx/new\n"
        "RUN --mount=type=bind,source=dir,target=/d ls -a /d > /sub\n",
        tmp_path,
    )
    assert isinstance(result, Image), result
    with result:
        for name in ("ro", "rw"):
            listing = result.file(name).read_text().split()
            assert "/ctx/kept.txt" in listing
            assert "/ctx/secret.txt" not in listing
            assert "/ctx/dir/secret.txt" not in listing
        assert "secret.txt" not in result.file("sub").read_text().split()
    assert (hostile / "secret.txt").read_text() == "ignored\n"
    assert not (hostile / "new").exists()


def test_binding_an_excluded_file_is_an_error(
    base: str, hostile: Path, tmp_path: Path, mode: str
) -> None:
    result = build_image(
        hostile,
        f"FROM {base}\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n",
        tmp_path,
    )
    assert isinstance(result, ImageBuildError)
    assert "excluded by .dockerignore" in result.message
