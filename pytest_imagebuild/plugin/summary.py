"""What the session's builds did, for the terminal summary (merged across xdist workers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = ["BuildRecord", "format_size", "pruned_lines", "skipped_lines", "summary_lines"]

BUILT = "built"
REUSED = "reused"
FAILED = "failed"


@dataclass(frozen=True)
class BuildRecord:
    """One image a session needed: built now, reused from the cache, or failed.

    ``steps_cached`` / ``steps_run`` are the builder's layer-cache hits and misses (``-1``
    when the builder did not report them); ``seconds`` is the build (or lookup) time.
    """

    name: str
    key: str
    outcome: str
    seconds: float
    size: int = 0
    steps_cached: int = -1
    steps_run: int = -1
    worker: str = ""
    skipped: tuple[str, ...] = ()  # what unpacking could not apply, one line per kind

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BuildRecord:
        names = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        lines = values.get("skipped")
        if isinstance(lines, list):
            values["skipped"] = tuple(str(line) for line in lines)  # JSON from xdist workers
        return cls(**values)  # type: ignore[arg-type]


def format_size(size: int) -> str:
    """``2.1 MB`` style, decimal units as registries show them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _steps(record: BuildRecord) -> str:
    if record.steps_cached < 0:
        return ""
    return f", steps: {record.steps_cached} cached, {record.steps_run} run"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_lines(records: list[BuildRecord], cache_dir: Path | None) -> list[str]:
    """One line per image event, then a total line; empty when nothing was built or reused."""
    if not records:
        return []
    lines = []
    for record in sorted(records, key=lambda r: (r.name, r.outcome, r.worker)):
        where = f" [{record.worker}]" if record.worker else ""
        size = f", {format_size(record.size)}" if record.size else ""
        lines.append(
            f"{record.outcome:<7}{record.name}{where}: {record.seconds:.2f}s{size}{_steps(record)}"
        )
    built = [r for r in records if r.outcome == BUILT]
    reused = sum(1 for r in records if r.outcome == REUSED)
    failed = sum(1 for r in records if r.outcome == FAILED)
    counted = [r.steps_cached for r in built if r.steps_cached >= 0]
    steps = f" ({_plural(sum(counted), 'step')} cached)" if counted else ""
    total = sum(r.seconds for r in built)
    cache = f"; cache {cache_dir}" if cache_dir is not None else ""
    lines.append(
        f"images: {len(built)} built in {total:.2f}s{steps}, "
        f"{reused} reused, {failed} failed{cache}"
    )
    return lines


def pruned_lines(images: int, freed: int, left: int, limit: int, problems: list[str]) -> list[str]:
    """What the size-bounded pruning of built images did: one line, then its problems."""
    line = (
        f"image cache: removed {_plural(images, 'least recently used image')} "
        f"({format_size(freed)}), {format_size(left)} left of {format_size(limit)}"
    )
    if left > limit:
        line += " (the images this session used stay)"
    return [line, *(f"could not remove: {p}" for p in problems)]


def skipped_lines(records: list[BuildRecord]) -> list[str]:
    """Warnings for builds whose layers or archives held items unpacking could not apply."""
    lines = []
    for record in sorted(records, key=lambda r: (r.name, r.worker)):
        if record.skipped:
            lines.append(f"warning: {record.name}: not everything in its layers was applied:")
            lines += [f"  {line}" for line in record.skipped]
    return lines
