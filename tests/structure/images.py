"""Images the structure and command tests run on, built by the embedded executor."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions

APP_DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
ENV APP_HOME=/opt/app GREETING=hello
LABEL org.example.version=1.2.3 maintainer=team
EXPOSE 8080/tcp
VOLUME /data
WORKDIR /opt/app
COPY app.sh /opt/app/app.sh
RUN chmod 0755 /opt/app/app.sh && chmod 4755 /bin/busybox \\
 && mkdir -p /usr/share/doc/liba /usr/share/doc/libb \\
 && echo "GPL-2 licensed" > /usr/share/doc/liba/copyright \\
 && echo "MIT" > /usr/share/doc/libb/copyright \\
 && echo "app config: port=8080" > /opt/app/app.conf && chown 1000:1000 /opt/app/app.conf
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/bin/true"]
STOPSIGNAL SIGTERM
ONBUILD RUN echo child
USER app
ENTRYPOINT ["/opt/app/app.sh"]
CMD ["serve"]
"""

APP_SH = """\
#!/bin/sh
echo "app $*"
echo "user $(id -u):$(id -g) in $(pwd)" >&2
exit 0
"""


def app_image(rootfs_tar: Path, factory: pytest.TempPathFactory) -> Path:
    """The app image (APP_DOCKERFILE), built once per session and kept under its base temp."""
    work = factory.getbasetemp() / "app-image"
    tar = work / "image.tar"
    if not tar.is_file():
        shutil.rmtree(work, ignore_errors=True)
        build_image(rootfs_tar, work, APP_DOCKERFILE, {"app.sh": APP_SH})
    return tar


def build_image(
    rootfs_tar: Path,
    work: Path,
    dockerfile: str,
    files: dict[str, str],
    tag: str = "imagebuild-test/structure:1",
) -> Path:
    """Build ``dockerfile`` over the busybox root (``rootfs.tar`` in the context) to a tar."""
    context = work / "context"
    context.mkdir(parents=True)
    shutil.copyfile(rootfs_tar, context / "rootfs.tar")
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (context / name).write_text(text)
    tar = work / "image.tar"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=tar,
            destinations=(tag,),
            created="2020-01-01T00:00:00Z",
        ),
        verbose=False,
    )
    return tar
