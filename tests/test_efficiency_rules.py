"""dive's CI rules: the ``.dive-ci`` spellings, sizes as dive parses them, and
``assert_efficiency``'s messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild import UsageError, assert_efficiency
from pytest_imagebuild.efficiency import Rules, parse_rules, read_dive_ci
from pytest_imagebuild.efficiency.rules import parse_bytes
from pytest_imagebuild.image import Image
from tests.image import imagekit as kit


@pytest.fixture
def wasteful(tmp_path: Path) -> Iterator[Image]:
    """A 1,000-byte base, a 4,000-byte file written in layer 1 and deleted in layer 2."""
    layers = [
        kit.layer([kit.file("base", b"b" * 1000)]),
        kit.layer([kit.file("tmp/blob", b"x" * 4000), kit.file("app", b"a" * 1000)]),
        kit.layer([kit.whiteout("tmp/blob")]),
    ]
    spec = kit.config(layers)
    spec["history"] = [
        {"created_by": "ADD base.tar /"},
        {"created_by": "RUN fetch blob && build app"},
        {"created_by": "RUN rm /tmp/blob"},
    ]
    path = kit.docker_archive(tmp_path / "image.tar", kit.Spec(layers, spec))
    with Image.open(path) as image:
        yield image


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20MB", 20_000_000),
        ("20mb", 20_000_000),
        ("20 MiB", 20 * 1024 * 1024),
        ("1.5k", 1500),
        ("1,000", 1000),
        ("512", 512),
        ("3GiB", 3 * 1024**3),
    ],
)
def test_sizes_parse_as_dive_parses_them(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["MB", "20 furlongs", "-3MB", ""])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_bytes(text)


def test_dive_ci_file_in_both_spellings(tmp_path: Path) -> None:
    legacy = tmp_path / ".dive-ci"
    legacy.write_text(
        "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n"
        "  highestUserWastedPercent: disabled\n"
    )
    assert read_dive_ci(legacy) == Rules(0.95, 20_000_000, None)
    modern = tmp_path / "modern.yaml"
    modern.write_text("rules:\n  lowest-efficiency: 0.5\n")
    # Rules a file leaves out take dive's defaults.
    assert read_dive_ci(modern) == Rules(0.5, None, 0.1)


def test_bad_dive_ci_files_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / ".dive-ci"
    path.write_text("rules:\n  lowestEfficiency: 0.9\n  highestUserWastedPercent: 7\n")
    with pytest.raises(UsageError) as info:
        read_dive_ci(path)
    assert str(info.value).startswith(f"{path}:3: highest_user_wasted_percent must be a ratio")
    path.write_text("rules:\n  lowestEfficency: 0.9\n")
    with pytest.raises(UsageError, match=r":2: unknown efficiency rule 'lowestEfficency'"):
        read_dive_ci(path)
    path.write_text("rules: [\n")
    with pytest.raises(UsageError, match="bad YAML"):
        read_dive_ci(path)
    path.write_text("other: 1\n")
    with pytest.raises(UsageError, match="no 'rules:' mapping"):
        read_dive_ci(path)
    with pytest.raises(UsageError, match="cannot read dive CI file"):
        read_dive_ci(tmp_path / "missing")


def test_rules_from_a_mapping_accept_off_and_false() -> None:
    rules = parse_rules({"lowestEfficiency": "off", "highestUserWastedPercent": False})
    assert rules == Rules(None, None, None)


def test_every_broken_rule_is_reported_with_the_trace(wasteful: Image) -> None:
    # dive: blob 4,000 + deletion 0 -> 4,000 wasted; score 2,000 / 6,000; user bytes 5,000.
    with pytest.raises(AssertionError) as info:
        assert_efficiency(
            wasteful,
            lowest_efficiency=0.9,
            highest_wasted_bytes="1kB",
            highest_user_wasted_percent=0.5,
        )
    message = str(info.value)
    assert message.splitlines()[:4] == [
        "efficiency (dive figures): 3 mismatches",
        "  lowest_efficiency: expected >= 0.9, found 0.3333",
        "  highest_wasted_bytes: expected <= 1,000 bytes, found 4,000 bytes",
        "  highest_user_wasted_percent: expected <= 0.5, found 0.8000",
    ]
    assert "  /tmp/blob: 4,000 bytes hidden, dive counts 4,000 bytes" in message
    assert "    layer 1 wrote 4,000 bytes: RUN fetch blob && build app" in message
    assert "    layer 2 deleted: RUN rm /tmp/blob" in message


def test_passing_rules_return_the_figures(wasteful: Image) -> None:
    result = assert_efficiency(
        wasteful,
        lowest_efficiency=0.3,
        highest_wasted_bytes=4000,
        highest_user_wasted_percent="disabled",
    )
    assert result.wasted_bytes == 4000


def test_corrected_figures_and_a_dive_ci_file(wasteful: Image, tmp_path: Path) -> None:
    path = tmp_path / ".dive-ci"
    path.write_text("rules:\n  lowestEfficiency: 0.5\n  highestUserWastedPercent: disabled\n")
    with pytest.raises(AssertionError, match=r"found 0\.3333"):
        assert_efficiency(wasteful, dive_ci=path)
    # Corrected: 4,000 of 6,000 shipped bytes are hidden: score 0.3333 as well, but the
    # keyword overrides the file.
    assert_efficiency(wasteful, dive_ci=path, lowest_efficiency=0.3, figures="corrected")
    with pytest.raises(AssertionError, match=r"^efficiency \(corrected figures\)"):
        assert_efficiency(wasteful, dive_ci={"lowestEfficiency": 0.4}, figures="corrected")


def test_dive_defaults_apply_without_thresholds(wasteful: Image) -> None:
    with pytest.raises(AssertionError, match=r"lowest_efficiency: expected >= 0\.9"):
        assert_efficiency(wasteful)


def test_wrong_arguments_are_usage_errors(wasteful: Image) -> None:
    with pytest.raises(UsageError, match="figures must be"):
        assert_efficiency(wasteful, figures="best")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="lowest_efficiency must be a ratio"):
        assert_efficiency(wasteful, lowest_efficiency=95)
