"""Hypothesis settings for the property tests: derandomized (the same examples on every run,
so CI is repeatable), no example database in the checkout, a per-example deadline."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings

settings.register_profile(
    "imagebuild",
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("imagebuild")
