"""``assert_efficiency``: dive's CI thresholds as an assertion, every broken rule at once,
with the wasted paths traced to the instructions that wrote and hid them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Literal

from pytest_imagebuild.efficiency import Efficiency, Rules, analyze_efficiency, parse_rules
from pytest_imagebuild.efficiency import read_dive_ci as _read_dive_ci
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.assertions import _fail
from pytest_imagebuild.plugin.repr import shorten

__all__ = ["assert_efficiency"]

SHOWN_PATHS = 5
Threshold = float | int | str | None


def _rules(
    dive_ci: str | os.PathLike[str] | Mapping[str, object] | None, **given: Threshold
) -> Rules:
    values: dict[str, object] = {}
    if dive_ci is not None:
        base = parse_rules(dive_ci) if isinstance(dive_ci, Mapping) else _read_dive_ci(dive_ci)
        values = {k: "disabled" if v is None else v for k, v in asdict(base).items()}
    values.update({k: v for k, v in given.items() if v is not None})
    return parse_rules(values, where="assert_efficiency")


def _size(value: int) -> str:
    return f"{value:,} bytes"


def _summary(result: Efficiency) -> list[str]:
    lines = [
        f"dive: score {result.score:.4f}, wasted {_size(result.wasted_bytes)}, "
        f"{result.user_wasted_percent:.2%} of {_size(result.user_size_bytes)} above the base",
        f"corrected: score {result.corrected_score:.4f}, wasted "
        f"{_size(result.corrected_wasted_bytes)}, {result.corrected_user_wasted_percent:.2%}",
    ]
    if result.dive_skipped_layers:
        lines.append(f"dive stops early in layers {list(result.dive_skipped_layers)}")
    if result.wasted:
        lines.append(f"largest wasted paths ({len(result.wasted)}):")
    for wasted in result.wasted[:SHOWN_PATHS]:
        lines.append(
            f"  {wasted.path}: {_size(wasted.wasted_bytes)} hidden, dive counts "
            f"{_size(wasted.dive_bytes)}"
        )
        for copy in wasted.copies:
            what = f"{copy.action} {_size(copy.size)}" if copy.size else copy.action
            via = f" (via {copy.via})" if copy.via and copy.via != wasted.path else ""
            lines.append(f"    layer {copy.layer} {what}{via}: {shorten(copy.created_by)}")
    if len(result.wasted) > SHOWN_PATHS:
        lines.append(f"  ... and {len(result.wasted) - SHOWN_PATHS} more")
    return lines


def assert_efficiency(
    image: Image,
    *,
    lowest_efficiency: Threshold = None,
    highest_wasted_bytes: Threshold = None,
    highest_user_wasted_percent: Threshold = None,
    dive_ci: str | os.PathLike[str] | Mapping[str, object] | None = None,
    figures: Literal["dive", "corrected"] = "dive",
) -> Efficiency:
    """Check the image against dive's CI rules; returns the Efficiency when they pass.

    Thresholds not given come from ``dive_ci`` (a ``.dive-ci`` file or its ``rules``
    mapping), else take dive's defaults (0.9, disabled, 0.1). "disabled" turns a rule off;
    ``highest_wasted_bytes`` takes an int or a size such as "20MB". ``figures="corrected"``
    checks the corrected figures instead of dive's.
    """
    __tracebackhide__ = True
    if figures not in ("dive", "corrected"):
        raise UsageError(
            f"assert_efficiency: figures must be 'dive' or 'corrected', not {figures!r}"
        )
    rules = _rules(
        dive_ci,
        lowest_efficiency=lowest_efficiency,
        highest_wasted_bytes=highest_wasted_bytes,
        highest_user_wasted_percent=highest_user_wasted_percent,
    )
    result = analyze_efficiency(image)
    corrected = figures == "corrected"
    score = result.corrected_score if corrected else result.score
    wasted = result.corrected_wasted_bytes if corrected else result.wasted_bytes
    percent = result.corrected_user_wasted_percent if corrected else result.user_wasted_percent
    problems: list[str] = []
    # Written as dive compares, so NaN (no bytes above the base) passes as it does there.
    if rules.lowest_efficiency is not None and rules.lowest_efficiency > score:
        problems.append(
            f"lowest_efficiency: expected >= {rules.lowest_efficiency}, found {score:.4f}"
        )
    if rules.highest_wasted_bytes is not None and wasted > rules.highest_wasted_bytes:
        problems.append(
            f"highest_wasted_bytes: expected <= {_size(rules.highest_wasted_bytes)}, "
            f"found {_size(wasted)}"
        )
    if (
        rules.highest_user_wasted_percent is not None
        and percent > rules.highest_user_wasted_percent
    ):
        problems.append(
            f"highest_user_wasted_percent: expected <= {rules.highest_user_wasted_percent}, "
            f"found {percent:.4f}"
        )
    if problems:
        raise _fail(f"efficiency ({figures} figures)", problems, _summary(result))
    return result
