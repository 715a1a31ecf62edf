"""rpm, semver and apk version orders. rpm's is checked against rpm itself (``rpm.vercmp``
through ``rpm --eval``'s Lua, ``labelCompare`` from rpm's Python binding), semver's
against npm's own ``semver`` module run by node, on curated and random pairs. apk has no
tool on Debian: its cases follow apk's documented version format and order."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from pytest_imagebuild.packages import compare_versions
from pytest_imagebuild.packages.apkversion import compare_apk
from pytest_imagebuild.packages.rpmversion import compare_evr, rpmvercmp
from pytest_imagebuild.packages.semver import compare_semver

RPM_PAIRS = [
    ("1.0", "1.0"),
    ("1.0", "2.0"),
    ("2.0.1", "2.0"),
    ("1.0a", "1.0"),
    ("1.0", "1.0~rc1"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~rc1~git1", "1.0~rc1"),
    ("1.0^", "1.0"),
    ("1.0^git1", "1.0.1"),
    ("1.0^git1", "1.0^git2"),
    ("1.0~rc1^git1", "1.0~rc1"),
    ("10", "9"),
    ("1.010", "1.9"),
    ("1.0.0", "1.0"),
    ("a", "1"),
    ("1.a", "1.1"),
    ("2_0", "2.0"),
    ("FC5", "fc4"),
    ("00010", "10"),
    ("1..0", "1.0"),
]


def random_pairs(alphabet: str, count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))

    return [(word(), word()) for _ in range(count)]


def rpm_vercmp(pairs: list[tuple[str, str]], tmp_path: Path) -> list[int]:
    """rpm's own answers. Its Lua ``rpm.vercmp`` reads "-" and ":" as the release and epoch
    separators and refuses an empty string, so the pairs hold neither."""
    listing = tmp_path / "pairs.tsv"
    listing.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    script = (
        f'%{{lua: for line in io.lines("{listing}") do '
        'local a, b = line:match("^(.-)\t(.*)$"); print(rpm.vercmp(a, b) .. ",") end}'
    )
    out = subprocess.run(
        ["rpm", "--eval", script], capture_output=True, text=True, check=True
    ).stdout
    return [int(value) for value in out.replace("\n", "").split(",") if value]


def test_rpmvercmp_agrees_with_rpm(tmp_path: Path) -> None:
    pairs = RPM_PAIRS + random_pairs("0123456789ab.~^_", 400, seed=8)
    expected = rpm_vercmp(pairs, tmp_path)
    assert len(expected) == len(pairs)
    ours = [rpmvercmp(a, b) for a, b in pairs]
    wrong = [(a, b, o, e) for (a, b), o, e in zip(pairs, ours, expected, strict=True) if o != e]
    assert wrong == []


EVR_PAIRS = [
    ("1:1.0-1", "2.0-1"),
    ("0:1.0-1", "1.0-1"),
    ("1.0-1", "1.0-2"),
    ("1.0-1.el9", "1.0-1.el8"),
    ("2:1.2.3-4", "2:1.2.3-4"),
    ("1.0~rc1-1", "1.0-1"),
    ("1.0-10", "1.0-9"),
    ("10:0.1-1", "9:9.9-9"),
]


def test_evr_order_agrees_with_rpms_python_binding() -> None:
    program = (
        "import json, sys, rpm\n"
        "def split(s):\n"
        "    e, _, rest = s.rpartition(':') if ':' in s else ('0', '', s)\n"
        "    v, _, r = rest.rpartition('-')\n"
        "    return (e or '0', v, r)\n"
        "pairs = json.load(sys.stdin)\n"
        "print(json.dumps([rpm.labelCompare(split(a), split(b)) for a, b in pairs]))\n"
    )
    done = subprocess.run(
        ["/usr/bin/python3", "-c", program],
        input=json.dumps(EVR_PAIRS),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"rpm's Python binding (python3-rpm) is needed:\n{done.stderr}"
    expected = json.loads(done.stdout)
    assert [compare_evr(a, b) for a, b in EVR_PAIRS] == expected
    assert compare_versions("rpm", "2:1.2.3-4", "3.0-1") == 1


def node_semver(pairs: list[tuple[str, str]], prefix: Path) -> list[int]:
    """npm's ``semver`` module (installed from the npm registry) run by node."""
    install = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--no-package-lock"]
    subprocess.run(
        [*install, "--prefix", str(prefix), "semver@7.6.3"], capture_output=True, check=True
    )
    module = prefix / "node_modules" / "semver"
    program = (
        f"const semver = require({json.dumps(str(module))});"
        "const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(pairs.map(([a, b]) => semver.compare(a, b))));"
    )
    out = subprocess.run(
        ["node", "-e", program], input=json.dumps(pairs), capture_output=True, text=True, check=True
    ).stdout
    return [int(v) for v in json.loads(out)]


def random_semvers(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    idents = ["alpha", "beta", "rc", "0", "1", "2", "11", "x-y", "alpha1", "A"]

    def version() -> str:
        text = ".".join(str(rng.choice([0, 1, 2, 10])) for _ in range(3))
        if rng.random() < 0.6:
            text += "-" + ".".join(rng.choice(idents) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.2:
            text += "+build." + str(rng.randint(0, 9))
        return text

    return [(version(), version()) for _ in range(count)]


def test_semver_agrees_with_npms_semver(tmp_path: Path) -> None:
    pairs = [
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0+build.1", "1.0.0+build.2"),
        ("v1.2.3", "1.2.3"),
        ("10.0.0", "9.9.9"),
        *random_semvers(300, seed=8),
    ]
    expected = node_semver(pairs, tmp_path)
    assert [compare_semver(a, b) for a, b in pairs] == expected


@pytest.mark.parametrize("text", ["1.0", "01.0.0", "1.0.0-01", "1.0.0-", "latest"])
def test_invalid_semver_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a semver version"):
        compare_semver(text, "1.0.0")


# (older, newer) pairs following apk's documented version format
# number{.number}{letter}{_suffix{number}}{-r#} and suffix order
# alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p.
APK_ORDERED = [
    ("1.0", "1.0.1"),
    ("1.0", "1.0a"),
    ("1.0a", "1.0b"),
    ("1.0a", "1.0.1"),
    ("1.0_alpha", "1.0_beta"),
    ("1.0_beta", "1.0_pre"),
    ("1.0_pre", "1.0_rc"),
    ("1.0_rc", "1.0"),
    ("1.0", "1.0_cvs"),
    ("1.0_cvs", "1.0_svn"),
    ("1.0_svn", "1.0_git"),
    ("1.0_git", "1.0_hg"),
    ("1.0_hg", "1.0_p"),
    ("1.0_rc1", "1.0_rc2"),
    ("1.0_rc2", "1.0_rc10"),
    ("1.0_alpha", "1.0_alpha1"),
    ("1.0", "1.0-r1"),
    ("1.0-r1", "1.0-r2"),
    ("1.0-r9", "1.0-r10"),
    ("1.0-r1", "1.0_p1"),
    ("1.0_rc1-r5", "1.0-r0"),
    ("1.9", "1.10"),
    ("1.01", "1.1"),
    ("1.001", "1.01"),
    ("1.2.4-r4", "1.2.4_git20230717-r4"),
    ("1.2.4_git20230717-r4", "1.2.4_git20230717-r10"),
    ("1.36.1-r2", "1.36.1-r15"),
    ("2.0", "10.0"),
]


@pytest.mark.parametrize(("older", "newer"), APK_ORDERED)
def test_apk_order(older: str, newer: str) -> None:
    assert compare_apk(older, newer) == -1
    assert compare_apk(newer, older) == 1
    assert compare_apk(older, older) == 0


@pytest.mark.parametrize("text", ["", "abc", "1.0-x", "1..0", "1.0_foo", "1.0-r", "1.", "1.0_"])
def test_invalid_apk_versions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an apk version"):
        compare_apk(text, "1.0")
