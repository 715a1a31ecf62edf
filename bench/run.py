"""Benchmarks of pytest-imagebuild against buildah, docker and BuildKit, in the same run.

    python bench/run.py [--workload NAME]... [--runs N] [--quick] [--json out.json]

Prints one table: min and median wall time of N runs, peak memory, ratios against the
reference builders and the goal beside each result. Numbers are reported, never judged;
a tool that cannot run shows "error: <reason>" in its row and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import buildkit
import infra
from tools import BUILDAH, Result, quiet
from workloads import ALL

Row = dict[str, object]
COLUMNS = ("workload", "measure", "tool", "goal", "min", "median", "peak MB", "ratio")


def _ratios(row: Row, rows: list[Row]) -> str:
    mine = row["result"].median  # type: ignore[attr-defined]
    out = []
    for other in row.get("versus", []):  # type: ignore[attr-defined]
        match = [
            r
            for r in rows
            if r["workload"] == row["workload"]
            and r["measure"] == row["measure"]
            and r["tool"] == other
        ]
        theirs = match[0]["result"].median if match else None  # type: ignore[attr-defined]
        out.append(f"{mine / theirs:.2f}x {other}" if mine and theirs else f"- {other}")
    return ", ".join(out)


def _cells(row: Row, rows: list[Row]) -> list[str]:
    """Row cells; a row without numbers ends in one "error: <reason>" cell."""
    result = row["result"]
    if not isinstance(result, Result):
        raise TypeError(f"row {row['workload']} has no Result")
    extra = f" [{row['note']}]" if row.get("note") else ""
    head = [str(row["workload"]), str(row["measure"]) + extra, str(row["tool"])]
    head.append(str(row.get("goal", "")))
    if result.error is not None or not result.samples:
        return [*head, f"error: {result.error or 'no samples'}"]
    ms = row.get("unit") == "ms"
    times = [s.seconds * (1000.0 if ms else 1.0) for s in result.samples]
    fmt = "{:.3f} ms" if ms else "{:.2f} s"
    peak = max(s.peak_kb for s in result.samples) / 1024
    note = f" ({result.peak_note})" if result.peak_note else ""
    return [
        *head,
        fmt.format(min(times)),
        fmt.format(statistics.median(times)),
        f"{peak:.0f}{note}" if peak else "n/a",
        _ratios(row, rows),
    ]


def table(rows: list[Row]) -> str:
    body = [list(COLUMNS)] + [_cells(row, rows) for row in rows]
    full = [line for line in body if len(line) == len(COLUMNS)]
    widths = [max(len(line[i]) for line in (body if i < 4 else full)) for i in range(len(COLUMNS))]
    out = []
    for n, line in enumerate(body):
        out.append(" | ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=False)))
        out[-1] += " | " + line[-1]
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def header(env: infra.Env) -> str:
    try:
        buildah = quiet([BUILDAH, "--version"]).strip()
    except Exception as exc:
        buildah = f"buildah: {exc}"
    try:
        docker = "docker " + env.docker.info().get("Version", "?")
    except Exception as exc:
        docker = f"docker: {exc}"
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {buildah}, {docker}, {buildkit.version()}, "
        f"runs={env.runs}{', quick sizes' if env.quick else ''}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workload",
        action="append",
        choices=sorted(ALL),
        metavar="NAME",
        help=f"run only these (repeatable): {', '.join(ALL)}",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the file counts and sizes (smoke run)"
    )
    parser.add_argument("--json", type=Path, help="also write the rows and samples here")
    args = parser.parse_args(argv)
    names = args.workload or list(ALL)
    infra.WORK.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    with infra.docker_daemon() as docker, infra.registry(infra.WORK) as registry:
        env = infra.Env(infra.WORK, registry, docker, args.quick, max(1, args.runs))
        print(header(env), flush=True)
        for name in names:
            print(f"... {name}", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                rows += ALL[name].rows(env)
            except Exception as exc:
                traceback.print_exc()
                rows.append(
                    {
                        "workload": name,
                        "measure": "setup",
                        "tool": "-",
                        "result": Result(error=f"{type(exc).__name__}: {exc}"[:200]),
                        "goal": "",
                    }
                )
            print(
                f"... {name} done in {time.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    print(table(rows))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        **{k: v for k, v in row.items() if k != "result"},
                        "error": row["result"].error,  # type: ignore[attr-defined]
                        "samples": [vars(s) for s in row["result"].samples],
                    }  # type: ignore[attr-defined]
                    for row in rows
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
