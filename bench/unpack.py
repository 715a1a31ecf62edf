"""Layer unpack speed: ``unpack_layer`` against GNU ``tar -xf`` on the same layer.

    python bench/unpack.py [LAYER ...] [--repeat N] [--threads N]

Without LAYER a layer is made once from /usr/share, /usr/include and /usr/lib/python3 (about
67k entries, 800 MB) under /var/tmp/imagebuild-bench, plus a gzip copy. Runs alternate
between the two tools; each run unpacks into a fresh directory on the same filesystem and
syncs before the clock starts. Prints seconds per run and the ratio of medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from isal import igzip

from pytest_imagebuild.builder.fs import unpack_layer

WORK = Path("/var/tmp/imagebuild-bench")
SOURCES = ["usr/share", "usr/include", "usr/lib/python3"]


def default_layers() -> list[Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    plain = WORK / "base.tar"
    if not plain.exists():
        tmp = plain.with_suffix(".tmp")
        subprocess.run(["tar", "--format=pax", "-cf", tmp, "-C", "/", *SOURCES], check=True)
        tmp.rename(plain)
    packed = WORK / "base.tar.gz"
    if not packed.exists():
        with open(plain, "rb") as src, igzip.open(packed.with_suffix(".tmp"), "wb", 1) as dst:
            shutil.copyfileobj(src, dst, 4 << 20)
        packed.with_suffix(".tmp").rename(packed)
    return [plain, packed]


def fresh(name: str) -> Path:
    target = WORK / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    os.sync()
    return target


def run_tar(layer: Path) -> float:
    target = fresh("tar-out")
    start = time.perf_counter()
    subprocess.run(["tar", "-xf", layer, "-C", target], check=True)
    return time.perf_counter() - start


def run_ours(layer: Path, threads: int) -> float:
    target = fresh("ours-out")
    start = time.perf_counter()
    unpack_layer(layer, target, threads=threads)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layers", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=3)
    args = parser.parse_args()
    for layer in args.layers or default_layers():
        tar_times, our_times = [], []
        for _ in range(args.repeat):
            tar_times.append(run_tar(layer))
            our_times.append(run_ours(layer, args.threads))
            print(
                f"  {layer.name}: tar -xf {tar_times[-1]:.2f} s, "
                f"unpack_layer {our_times[-1]:.2f} s",
                flush=True,
            )
        ratio = statistics.median(our_times) / statistics.median(tar_times)
        print(
            f"{layer.name}: tar -xf {', '.join(f'{t:.2f}' for t in tar_times)} s | "
            f"unpack_layer {', '.join(f'{t:.2f}' for t in our_times)} s | "
            f"ratio {ratio:.2f}"
        )
    for name in ("tar-out", "ours-out"):
        shutil.rmtree(WORK / name, ignore_errors=True)


if __name__ == "__main__":
    main()
