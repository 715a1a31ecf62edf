"""Session fixtures: the tool's own image and the CI helper image, loaded into the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.images import PipelineImages, load_once, pipeline_images
from tests.support.docker import DockerDaemon


@pytest.fixture(scope="session")
def built_images(
    debian_rootfs_tar: Path, tmp_path_factory: pytest.TempPathFactory
) -> PipelineImages:
    """Tarballs of the tool's image and the helper image (cached across runs)."""
    return pipeline_images(debian_rootfs_tar, tmp_path_factory.mktemp("pipeline-images"))


@pytest.fixture(scope="session")
def own_image(docker_daemon: DockerDaemon, built_images: PipelineImages) -> str:
    """Tag of the tool's own image in the reference daemon."""
    return load_once(docker_daemon, built_images.own, built_images.own_tag)


@pytest.fixture(scope="session")
def helper_image(docker_daemon: DockerDaemon, built_images: PipelineImages) -> str:
    """Tag of gitlab-ci-local's helper image (bash and rsync) in the reference daemon."""
    return load_once(docker_daemon, built_images.helper, built_images.helper_tag)
