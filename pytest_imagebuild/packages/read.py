"""Every installed package an image's databases list."""

from __future__ import annotations

from pytest_imagebuild.image import Image
from pytest_imagebuild.packages.apk import read_apk
from pytest_imagebuild.packages.dpkg import read_dpkg
from pytest_imagebuild.packages.model import Packages
from pytest_imagebuild.packages.npm import read_npm
from pytest_imagebuild.packages.python import read_python
from pytest_imagebuild.packages.rpm import read_rpm

__all__ = ["read_packages"]


def read_packages(image: Image) -> Packages:
    """dpkg, apk, rpm, Python and npm packages, read from the merged view by seeking."""
    return Packages(
        [
            *read_dpkg(image),
            *read_apk(image),
            *read_rpm(image),
            *read_python(image),
            *read_npm(image),
        ]
    )
