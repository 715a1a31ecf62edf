"""The executor against docker's legacy builder: same files, config and history."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import (
    config_view,
    digest_of,
    file_table,
    history_view,
    make_base,
    write_tree,
)
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def bases(
    busybox_rootfs: Path, docker_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """(docker tag, oci: reference) of one and the same busybox image."""
    tar, layout = make_base(busybox_rootfs, tmp_path_factory.mktemp("base"))
    docker_daemon.load(tar)
    tag = f"imagebuild-test/orchestrator-base:{digest_of(tar)}"
    docker_daemon.run("tag", "imagebuild-test/orchestrator-base:1", tag)
    return tag, f"oci:{layout}"


CASES = {
    "metadata-and-run": (
        """\
ARG BASE
FROM $BASE
ARG A=1
ARG B
ENV X=1 Y="two words"
LABEL l1=v1 "l 2"=v2
EXPOSE 80 443/udp 80/tcp
VOLUME /data
WORKDIR /app
WORKDIR sub
USER app
RUN echo $A$B$X > /tmp/out && id -u >> /tmp/out
USER root
RUN ["/bin/sh", "-c", "echo exec > /b"]
HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost
STOPSIGNAL SIGKILL
ONBUILD RUN echo onb
MAINTAINER me <me@x>
SHELL ["/bin/sh", "-ec"]
ENV Z=3
RUN echo z > /z
CMD ["sh"]
ENTRYPOINT /bin/echo
""",
        {},
    ),
    "copy-forms": (
        """\
ARG BASE
FROM $BASE
COPY f.txt /f
COPY d /d/
COPY f.txt d/a /m/
COPY --chown=app:app d/* /home/app/
COPY d/ /etc/d2/
ADD f.txt /g
""",
        {"f.txt": "hi\n", "d/a": "x\n", "d/b": "y\n", "d/sub/c": "z\n"},
    ),
    "delete-and-replace": (
        """\
ARG BASE
FROM $BASE
RUN rm -rf /var && rm /bin/vi && mkdir -p /opt/x && echo 1 > /opt/x/f
RUN rm -rf /opt/x && echo file > /opt/x && ln -s /opt/x /opt/link
RUN mkdir /home/app/dir && chown -R app:app /home/app/dir && chmod 4755 /bin/busybox
""",
        {},
    ),
    "dockerignore": (
        """\
ARG BASE
FROM $BASE
COPY . /ctx/
""",
        {
            ".dockerignore": "*.log\nsecret\n!secret/public.txt\n**/*.tmp\n",
            "a.log": "l",
            "keep.txt": "k",
            "secret/private.txt": "p",
            "secret/public.txt": "pub",
            "deep/er/x.tmp": "t",
            "deep/er/y.txt": "y",
        },
    ),
    "multistage": (
        """\
ARG BASE
ARG GREETING=hello
FROM $BASE AS builder
ARG GREETING
RUN echo $GREETING > /greeting
FROM $BASE AS Other
RUN echo other > /other
ONBUILD RUN echo triggered > /triggered
FROM other AS child
FROM $BASE
COPY --from=builder /greeting /g1
COPY --from=1 /other /o1
COPY --from=child /triggered /t1
""",
        {},
    ),
    "arg-env-scoping": (
        """\
ARG BASE
ARG GLOBAL=g1
FROM $BASE
ARG GLOBAL
ARG LOCAL=${GLOBAL}-local
ENV FROM_ARG=$LOCAL OVERRIDE=env
ARG OVERRIDE=arg
ENV abc=hi
ENV abc=bye def=$abc
ENV ghi=$abc
LABEL scoped="$GLOBAL $LOCAL $OVERRIDE" "quoted label"='single $GLOBAL'
RUN echo "$GLOBAL $LOCAL $OVERRIDE $abc $def $ghi $B" > /vars
WORKDIR /a
WORKDIR b/../c
WORKDIR $LOCAL
USER 1000:50
RUN id > /tmp/id-out
""",
        {},
    ),
    "links-and-archives": (
        """\
ARG BASE
FROM $BASE
RUN mkdir -p /data/real && ln -s /data/real /data/link && echo a > /data/real/a \
    && ln /data/real/a /data/real/hard
COPY f.txt /data/link/
ADD pkg.tar /opt/
RUN mkdir /swap && echo x > /swap/x
RUN rm -rf /swap && ln -s /opt /swap
""",
        {"f.txt": "via link\n"},
    ),
    "volumes-and-users": (
        """\
ARG BASE
FROM $BASE
RUN mkdir -p /srv/app && echo before > /srv/app/kept
VOLUME /srv/app
RUN echo during > /srv/app/dropped && echo outside > /outside
COPY --chown=app f.txt /srv/app/copied
USER app
RUN echo mine > /tmp/mine
USER root:app
RUN touch /tmp/group-app
""",
        {"f.txt": "f\n"},
    ),
}


def _add_archive(context: Path) -> None:
    import io
    import tarfile

    with tarfile.open(context / "pkg.tar", "w") as tar:
        for name, data, mode, uid in (
            ("pkg/bin/tool", b"tool", 0o755, 33),
            ("pkg/README", b"r", 0o644, 0),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, uid, 1
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_image_as_docker(
    case: str, bases: tuple[str, str], docker_daemon: DockerDaemon, tmp_path: Path
) -> None:
    dockerfile, files = CASES[case]
    context = write_tree(tmp_path / "ctx", {**files, "Dockerfile": dockerfile})
    if case == "links-and-archives":
        _add_archive(context)
    tag = f"imagebuild-test/orchestrator-{case}:1"
    docker_daemon.build(
        context, tag=tag, build_args={"BASE": bases[0], "B": "2"}, extra_args=["--network=none"]
    )
    theirs = docker_daemon.save(tag, tmp_path / "docker.tar")
    ours = tmp_path / "ours.tar"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=ours,
            build_args=(("BASE", bases[1]), ("B", "2")),
        ),
        verbose=False,
    )
    with Image.open(theirs) as expected, Image.open(ours) as actual:
        assert file_table(actual) == file_table(expected)
        assert config_view(actual) == config_view(expected)
        assert history_view(actual) == history_view(expected)
        assert len(actual.layers) == len(expected.layers)
    loaded = docker_daemon.load(ours)
    assert "unset-repo/unset-image-name:latest" in loaded
