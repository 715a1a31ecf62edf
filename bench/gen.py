"""Deterministic generated inputs: file trees of varied sizes and small source trees.

Contents are slices of a fixed pool that is half random bytes and half text, so gzip
compresses a layer to roughly the ratio real application files show. A stamp file
records the parameters; a tree already generated with the same ones is reused.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

_POOL_SIZE = 8 << 20
_WORDS = b"alpha beta gamma delta image layer tar index file mode owner build cache \n"


def _pool(seed: int) -> bytes:
    rng = random.Random(seed)
    noise = rng.randbytes(_POOL_SIZE // 2)
    text = bytearray()
    while len(text) < _POOL_SIZE // 2:
        word = _WORDS.split(b" ")[rng.randrange(14)]
        text += word + (b"\n" if rng.random() < 0.1 else b" ")
    return noise + bytes(text[: _POOL_SIZE // 2])


def _sizes(rng: random.Random, count: int, total: int) -> list[int]:
    raw = [rng.lognormvariate(8.0, 1.6) for _ in range(count)]
    scale = total / sum(raw)
    cap = 48 << 20
    return [min(int(r * scale), cap) for r in raw]


def _stamp_ok(root: Path, params: dict[str, object]) -> bool:
    stamp = root.with_name(root.name + ".json")
    return root.is_dir() and stamp.exists() and json.loads(stamp.read_text()) == params


def _write_stamp(root: Path, params: dict[str, object]) -> None:
    root.with_name(root.name + ".json").write_text(json.dumps(params))


def file_tree(root: Path, files: int, total_bytes: int, seed: int = 1) -> Path:
    """``files`` files in nested directories, sizes lognormal, summing to ~total_bytes."""
    params: dict[str, object] = {"files": files, "bytes": total_bytes, "seed": seed, "v": 1}
    if _stamp_ok(root, params):
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    pool = _pool(seed)
    per_dir = 100
    for i, size in enumerate(_sizes(rng, files, total_bytes)):
        d = root / f"d{i // (per_dir * 50):03d}" / f"s{(i // per_dir) % 50:02d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        path = d / f"f{i:06d}.{('txt', 'bin', 'py', 'so')[i % 4]}"
        with path.open("wb") as out:
            left = size
            while left > 0:
                start = rng.randrange(0, _POOL_SIZE - min(left, _POOL_SIZE // 2))
                chunk = pool[start : start + min(left, _POOL_SIZE // 2)]
                out.write(chunk)
                left -= len(chunk)
        if i % 10 == 0:
            os.chmod(path, 0o755)
    _write_stamp(root, params)
    return root


def source_tree(root: Path, files: int, seed: int = 2) -> Path:
    """A small application: ``files`` Python-like modules plus a start script."""
    params: dict[str, object] = {"files": files, "seed": seed, "v": 1}
    if _stamp_ok(root, params):
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    for i in range(files):
        pkg = root / "app" / f"pkg{i // 50:02d}"
        pkg.mkdir(parents=True, exist_ok=True)
        lines = [f"def f{j}(x):\n    return x * {rng.randrange(1000)}\n" for j in range(40)]
        (pkg / f"mod{i:04d}.py").write_text("".join(lines))
    start = root / "start.sh"
    start.write_text('#!/bin/sh\nexec python3 -m app "$@"\n')
    start.chmod(0o755)
    _write_stamp(root, params)
    return root


def blank(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating parents) only if it differs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
