"""The measured child of the read-side rows, run in a fresh interpreter.

``python bench/readchild.py MODE IMAGE [CACHE]`` prints JSON: MODE ``open`` times
``Image.open``; ``query`` opens, reads one file and times 50 attribute checks one by one;
``packages`` opens and times ``image.packages``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ATTRIBUTES = ("exists", "mode", "uid", "size", "user")


def _child(mode: str, image_path: str, cache: str | None) -> dict[str, object]:
    from pytest_imagebuild.image import Image

    cache_dir = Path(cache) if cache else None
    start = time.perf_counter()
    image = Image.open(image_path, index_cache=cache_dir)
    opened = time.perf_counter() - start
    result: dict[str, object] = {"open": opened, "layers": len(image.layers)}
    if mode == "query":
        files = [f.path for f in image.walk() if f.is_file]
        result["files"] = len(files)
        step = max(1, len(files) // 10)
        paths = files[::step][:10]
        start = time.perf_counter()
        image.file(paths[0]).read_bytes()
        times = [time.perf_counter() - start]
        for path in paths:
            for attribute in ATTRIBUTES:
                start = time.perf_counter()
                getattr(image.file(path), attribute)
                times.append(time.perf_counter() - start)
        result["query_median"] = statistics.median(times)
        result["query_max"] = max(times)
        result["queries"] = len(times)
    if mode == "packages":
        start = time.perf_counter()
        packages = image.packages
        result["packages"] = time.perf_counter() - start
        result["count"] = len(packages.every)
    image.close()
    return result


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
    sys.exit(0)
