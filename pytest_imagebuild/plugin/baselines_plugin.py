"""The pytest side of baselines: the update option, its ini key and the fixture."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest

from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.baselines import DIRECTORY, UPDATE_ENV, assert_matches_baseline

__all__ = ["add_baseline_options", "configure_baselines", "image_baseline", "update_requested"]

BaselineCheck = Callable[..., None]


def add_baseline_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("imagebuild")
    group.addoption(
        "--imagebuild-update-baselines",
        action="store_true",
        default=None,
        dest="imagebuild_update_baselines",
        help="rewrite approved image baselines (__baselines__/<name>.txt) instead of "
        "comparing with them",
    )
    parser.addini(
        "imagebuild_update_baselines",
        "rewrite approved image baselines instead of comparing with them",
        type="bool",
        default=False,
    )


def update_requested(config: pytest.Config) -> bool:
    option = config.getoption("imagebuild_update_baselines", None)
    return bool(option) or bool(config.getini("imagebuild_update_baselines"))


def configure_baselines(config: pytest.Config) -> None:
    """Let ``assert_matches_baseline`` outside the fixture see the update request, for
    this run only (the variable is restored when pytest ends)."""
    if not update_requested(config):
        return
    before = os.environ.get(UPDATE_ENV)
    os.environ[UPDATE_ENV] = "1"

    def restore() -> None:
        if before is None:
            os.environ.pop(UPDATE_ENV, None)
        else:
            os.environ[UPDATE_ENV] = before

    config.add_cleanup(restore)


@pytest.fixture
def image_baseline(request: pytest.FixtureRequest) -> BaselineCheck:
    """``image_baseline(image, name=None, mtimes=False)``: ``assert_matches_baseline`` with
    the baseline beside this test file, named after the test unless ``name`` is given."""
    config = request.config
    folder = request.path.parent / DIRECTORY

    def check(image: Image, name: str | None = None, *, mtimes: bool = False) -> None:
        default = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).lstrip(".")
        assert_matches_baseline(
            image,
            name or default,
            directory=folder,
            update=update_requested(config),
            mtimes=mtimes,
            verbosity=config.get_verbosity(),
        )

    return check
