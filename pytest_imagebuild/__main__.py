"""``python -m pytest_imagebuild``: the ``imagebuild`` command."""

from __future__ import annotations

import sys

from pytest_imagebuild.cli import main

if __name__ == "__main__":
    sys.exit(main())
