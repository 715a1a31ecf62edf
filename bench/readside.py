"""Read-side rows: ``Image.open`` measured in a fresh interpreter per run.

The child (readchild.py) reports its own timings; peak memory is its ru_maxrss,
interpreter and imports included.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tools import Result, Sample, ToolError, timed

SCRIPT = str(Path(__file__).resolve().with_name("readchild.py"))


def _measure(
    mode: str, image: Path, cache: Path | None, runs: int, key: str = "open"
) -> tuple[Result, dict[str, object]]:
    result = Result()
    last: dict[str, object] = {}
    try:
        for _ in range(runs):
            args = [sys.executable, SCRIPT, mode, str(image)] + ([str(cache)] if cache else [])
            sample, out = timed(args)
            last = json.loads(out)
            result.samples.append(Sample(float(last[key]), sample.peak_kb))  # type: ignore[arg-type]
    except ToolError as exc:
        result.error = str(exc)
    return result, last


def index_rows(
    label: str, image: Path, work: Path, runs: int, goals: dict[str, str]
) -> list[dict[str, object]]:
    """Cold index, warm reopen and per-query rows for one image."""
    rows: list[dict[str, object]] = []
    cold, info = _measure("open", image, None, runs)
    rows.append(
        {
            "workload": label,
            "measure": "index (cold)",
            "tool": "Image.open",
            "result": cold,
            "goal": goals.get("index", ""),
        }
    )
    cache = work / f"index-cache-{image.stem}"
    shutil.rmtree(cache, ignore_errors=True)
    _measure("open", image, cache, 1)  # fills the cache
    warm, _ = _measure("open", image, cache, runs)
    rows.append(
        {
            "workload": label,
            "measure": "reopen (warm cache)",
            "tool": "Image.open",
            "result": warm,
            "goal": goals.get("reopen", ""),
        }
    )
    query, info = _measure("query", image, cache, runs, key="query_median")
    note = f"{info.get('files', '?')} files, {info.get('queries', '?')} queries" if info else ""
    rows.append(
        {
            "workload": label,
            "measure": "query (median of 51)",
            "tool": "Image.file",
            "result": query,
            "goal": goals.get("query", ""),
            "note": note,
            "unit": "ms",
        }
    )
    return rows


def gzip_rows(
    label: str, layout: Path, blobs: list[Path], runs: int, goal: str
) -> list[dict[str, object]]:
    """Index an OCI layout with gzip layers vs ``gzip -dc | tar -t`` over the same blobs."""
    ours, _ = _measure("open", layout, None, runs)
    script = "; ".join(f"gzip -dc {b} | tar -t > /dev/null" for b in blobs)
    ref = Result()
    try:
        for _ in range(runs):
            sample, _ = timed(["sh", "-c", f"set -e; {script}"])
            ref.samples.append(sample)
    except ToolError as exc:
        ref.error = str(exc)
    return [
        {
            "workload": label,
            "measure": "index gzip layers",
            "tool": "Image.open",
            "result": ours,
            "goal": goal,
            "versus": ["gzip|tar -t"],
        },
        {
            "workload": label,
            "measure": "index gzip layers",
            "tool": "gzip|tar -t",
            "result": ref,
            "goal": "",
        },
    ]
