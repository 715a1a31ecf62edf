"""The benchmark workloads, in the order they run (read side first)."""

from __future__ import annotations

from types import ModuleType

from workloads import (
    big_runs,
    big_runs_warm,
    copy_20k,
    debian_app,
    diff_big,
    multi_stage,
    packages_debian,
    pytest_suite,
    read_big,
    read_small,
    structure_suite,
    three_stages,
)

ALL: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        read_small,
        read_big,
        debian_app,
        big_runs,
        big_runs_warm,
        diff_big,
        packages_debian,
        copy_20k,
        three_stages,
        multi_stage,
        pytest_suite,
        structure_suite,
    )
}
