"""The read side: open image tarballs and layouts in place and look inside them."""

from __future__ import annotations

from pytest_imagebuild.image.config import Healthcheck, HistoryEntry
from pytest_imagebuild.image.file import File
from pytest_imagebuild.image.image import Image
from pytest_imagebuild.image.invocation import RunResult
from pytest_imagebuild.image.layer import Layer
from pytest_imagebuild.image.mode import Mode

__all__ = ["File", "Healthcheck", "HistoryEntry", "Image", "Layer", "Mode", "RunResult"]
