"""pytest entry point (pytest11 ``imagebuild``)."""
