"""The pytest side: entry point, options, marker, fixtures, the build cache of images,
assertion helpers and their messages."""
