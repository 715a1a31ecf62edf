"""Packages in baselines: the section as written, the baseline diff, allow rules, baselines
written before the section existed, and the syrupy extension; on the rpm databases that
rpmbuild and rpm wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagebuild import ImageFormatError
from pytest_imagebuild.diff import PackageChange, diff
from pytest_imagebuild.diff.inventory import Inventory
from pytest_imagebuild.diff.packages import keyed
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import Package
from pytest_imagebuild.plugin.baselines import baseline_text, compare_text
from pytest_imagebuild.plugin.baselines_format import parse_baseline, render_baseline
from pytest_imagebuild.plugin.baselines_syrupy import ImageExtension

TEST = """
from pytest_imagebuild import Image

def test_app(image_baseline):
    with Image.open({path!r}) as image:
        image_baseline(image, "app")
"""


@pytest.fixture(scope="module")
def texts(rpm_pair: tuple[Path, Path]) -> Iterator[tuple[str, str]]:
    with Image.open(rpm_pair[0]) as a, Image.open(rpm_pair[1]) as b:
        yield baseline_text(a), baseline_text(b)


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("[packages]") + 1 : lines.index("[files]")]


def _without_packages(text: str) -> str:
    lines = text.splitlines()
    start, end = lines.index("[packages]"), lines.index("[files]")
    return "\n".join(lines[:start] + lines[end:]) + "\n"


def test_section_is_sorted_and_round_trips(texts: tuple[str, str]) -> None:
    old, new = texts
    assert _section(old) == [
        "rpm demo-tool 1.2.3-4 arch=noarch",
        "rpm downdemo 2.0-1 arch=noarch",
        "rpm epochdemo 2.0-1 arch=noarch",
        "rpm gone 1.0-1 arch=noarch",
        "rpm libdemo 0.9~rc1-1 arch=noarch",
        "rpm licdemo 1.0-1 arch=noarch",
    ]
    assert "rpm epochdemo 1:1.0-1 arch=noarch" in _section(new)
    packages = parse_baseline(old, "old.txt").packages
    assert packages is not None
    assert packages["rpm", "demo-tool", ""].version == "1.2.3-4"
    assert compare_text(old, old, "old.txt").is_empty


def test_baseline_diff_reports_package_changes(
    texts: tuple[str, str], rpm_pair: tuple[Path, Path]
) -> None:
    result = compare_text(*texts, "old.txt")
    with Image.open(rpm_pair[0]) as a, Image.open(rpm_pair[1]) as b:
        direct = diff(a, b).packages
    # the baseline keeps ecosystem, name, version and arch: the licence change is not in it
    assert result.packages == tuple(p for p in direct if p.name != "licdemo")
    assert PackageChange("rpm", "fresh", "added", None, "3.0-2") in result.packages


def test_allow_list_approves_upgrades_only(texts: tuple[str, str]) -> None:
    allow = ["packages.rpm.*demo*:upgraded", "/var/lib/rpm/**"]
    result = compare_text(*texts, "old.txt", allow)
    assert [(p.name, p.change) for p in result.packages] == [
        ("downdemo", "downgraded"),
        ("fresh", "added"),
        ("gone", "removed"),
    ]
    assert result.changed == ()
    everything = ["packages.rpm", "/var/lib/rpm/**"]
    assert compare_text(*texts, "old.txt", everything).is_empty


def test_old_baseline_without_packages_fails_with_a_hint(texts: tuple[str, str]) -> None:
    old, new = texts
    legacy = _without_packages(old)
    with pytest.raises(ImageFormatError) as same:
        compare_text(legacy, old, "app.txt")
    message = str(same.value)
    assert message.startswith("app.txt:1: the baseline has no [packages] section")
    assert "the rest of it matches the image" in message
    assert "hint: run pytest --imagebuild-update-baselines to add the section" in message
    with pytest.raises(ImageFormatError) as differs:
        compare_text(legacy, new, "app.txt")
    assert "the rest of it differs from the image:\nfiles changed (" in str(differs.value)
    assert "  /var/lib/rpm/rpmdb.sqlite: " in str(differs.value)
    # allowing every package change accepts the old baseline as it is
    assert compare_text(legacy, old, "app.txt", ["packages"]).is_empty


def test_old_baseline_through_pytest(
    pytester: pytest.Pytester, rpm_pair: tuple[Path, Path], texts: tuple[str, str]
) -> None:
    pytester.makepyfile(test_app=TEST.format(path=str(rpm_pair[0])))
    folder = pytester.path / "__baselines__"
    folder.mkdir()
    (folder / "app.txt").write_text(_without_packages(texts[0]))
    failed = pytester.runpytest("-p", "no:benchmark")
    failed.assert_outcomes(failed=1)
    assert "another exception occurred" not in failed.stdout.str()
    failed.stdout.fnmatch_lines(
        [
            "*app.txt:1: the baseline has no [[]packages] section*the rest of it matches the image",
            "  hint: run pytest --imagebuild-update-baselines to add the section*",
        ]
    )
    pytester.runpytest("-p", "no:benchmark", "--imagebuild-update-baselines").assert_outcomes(
        passed=1
    )
    assert (folder / "app.txt").read_text() == texts[0]
    pytester.runpytest("-p", "no:benchmark").assert_outcomes(passed=1)


def test_syrupy_extension_shows_package_changes(texts: tuple[str, str]) -> None:
    old, new = texts
    extension = ImageExtension()
    assert extension.matches(serialized_data=old, snapshot_data=old)
    assert not extension.matches(serialized_data=new, snapshot_data=old)
    lines = list(extension.diff_lines(new, old))
    assert "packages (6):" in lines
    assert "  rpm demo-tool: 1.2.3-4 -> 1.10-1 (upgraded)" in lines
    legacy = list(extension.diff_lines(old, _without_packages(old)))
    assert not extension.matches(serialized_data=old, snapshot_data=_without_packages(old))
    assert "hint: run pytest --snapshot-update to add the section" in legacy[0]


def test_odd_package_values_round_trip() -> None:
    odd = Package("we ird=1", "1.0 beta\n", "python", "/s p/site-packages/x.dist-info/METADATA")
    plain = Package("libc6", "2.36-9", "dpkg", "/var/lib/dpkg/status", arch="a=b")
    packages = keyed([odd, plain])
    text = render_baseline({}, Inventory({}), packages=packages)
    assert _section(text) == [
        "dpkg libc6 2.36-9 arch=a\\x3db",
        "python we\\x20ird\\x3d1 1.0\\x20beta\\x0a in=/s\\x20p/site-packages",
    ]
    parsed = parse_baseline(text, "odd.txt").packages
    assert parsed is not None
    assert {(p.name, p.version, p.arch) for p in parsed.values()} == {
        ("we ird=1", "1.0 beta\n", None),
        ("libc6", "2.36-9", "a=b"),
    }
    assert set(parsed) == set(packages)
    for bad in ("dpkg libc6", "dpkg libc6 1.0 colour=red", "dpkg libc6 1.0 arch"):
        with pytest.raises(ImageFormatError, match=r"odd\.txt:4: malformed baseline line"):
            parse_baseline(text.replace("dpkg libc6 2.36-9 arch=a\\x3db", bad), "odd.txt")
