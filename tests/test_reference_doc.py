"""docs/reference.md must name every option, ini key, flag and public name the code has.

The page is checked against the code as it runs: ``pytest --help`` in a subprocess for the
plugin's options and ini keys, the ``imagebuild`` argparse parser for the command's flags,
and the classes themselves for the public API.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import pytest_imagebuild
from pytest_imagebuild import (
    File,
    Healthcheck,
    HistoryEntry,
    Image,
    Layer,
    Mode,
    assert_efficiency,
    assert_env,
    assert_file,
    assert_layers,
    assert_no_files,
    assert_no_packages,
    assert_package,
)
from pytest_imagebuild.cli import make_parser
from pytest_imagebuild.cli_warm import make_warm_parser
from pytest_imagebuild.packages import Package, Packages
from pytest_imagebuild.plugin.sources import MARKER_SIGNATURE

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def page() -> str:
    assert PAGE.is_file(), f"{PAGE} is missing"
    return PAGE.read_text(encoding="utf-8")


def section(page: str, number: int) -> str:
    """The text of ``## <number>. ...`` up to the next ``## `` heading."""
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", page, re.MULTILINE | re.DOTALL)
    assert match is not None, f"docs/reference.md has no section '## {number}. ...'"
    return match.group(0)


def code_words(text: str) -> set[str]:
    """Identifiers inside inline code spans (fenced blocks left out)."""
    spans = re.findall(r"`([^`]+)`", FENCE.sub("", text))
    return {word for span in spans for word in re.findall(r"[A-Za-z_]\w*", span)}


@pytest.fixture(scope="module")
def pytest_help(tmp_path_factory: pytest.TempPathFactory) -> str:
    # An empty directory, so no ini file changes what is listed, and PYTHONPATH naming the
    # package this module imported, so the help describes the same code as the checks below.
    where = tmp_path_factory.mktemp("help")
    checkout = str(Path(pytest_imagebuild.__file__).resolve().parents[1])
    paths = [checkout, os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"pytest --help failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def help_options(text: str) -> set[str]:
    return set(re.findall(r"^\s+(--imagebuild-[\w-]+)", text, re.MULTILINE))


def help_ini_keys(text: str) -> set[str]:
    return set(re.findall(r"^\s+(imagebuild_\w+) \(\w+\):", text, re.MULTILINE))


def test_help_lists_imagebuild_options(pytest_help: str) -> None:
    # Guards the parsing below: an empty set would make the other tests pass vacuously.
    assert "--imagebuild-image" in help_options(pytest_help)
    assert "imagebuild_image" in help_ini_keys(pytest_help)


def test_every_pytest_option_is_documented(page: str, pytest_help: str) -> None:
    documented = set(re.findall(r"--imagebuild-[a-z0-9-]*[a-z0-9]", page))
    missing = sorted(help_options(pytest_help) - documented)
    assert not missing, f"options in pytest --help but not in docs/reference.md: {missing}"


def test_every_documented_pytest_option_exists(page: str, pytest_help: str) -> None:
    documented = set(re.findall(r"--imagebuild-[a-z0-9-]*[a-z0-9]", page))
    unknown = sorted(documented - help_options(pytest_help))
    assert not unknown, f"options in docs/reference.md that pytest --help lacks: {unknown}"


def test_every_ini_key_is_documented(page: str, pytest_help: str) -> None:
    documented = set(re.findall(r"(?<![\w.])imagebuild_[a-z0-9_]*[a-z0-9]", page))
    missing = sorted(help_ini_keys(pytest_help) - documented)
    assert not missing, f"ini keys in pytest --help but not in docs/reference.md: {missing}"


def test_every_documented_ini_key_exists(page: str, pytest_help: str) -> None:
    documented = set(re.findall(r"(?<![\w.])imagebuild_[a-z0-9_]*[a-z0-9]", page))
    unknown = sorted(documented - help_ini_keys(pytest_help))
    assert not unknown, f"ini keys in docs/reference.md that pytest --help lacks: {unknown}"


def test_options_table_pairs_options_with_ini_keys(page: str, pytest_help: str) -> None:
    rows = [line for line in section(page, 3).splitlines() if line.startswith("| `--")]
    listed = {flag for row in rows for flag in re.findall(r"--imagebuild-[\w-]+", row)}
    missing = sorted(help_options(pytest_help) - listed)
    assert not missing, f"options without a row in the section 3 table: {missing}"
    no_key = [row.split("|")[1].strip() for row in rows if "imagebuild_" not in row]
    assert not no_key, f"rows of the section 3 table without an ini key: {no_key}"


def parser_flags(parser: argparse.ArgumentParser | None = None) -> set[str]:
    parser = parser or make_parser()
    return {
        flag
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        for flag in action.option_strings
    }


def _warm_section(page: str) -> str:
    text = section(page, 6)
    start = text.index("### `imagebuild warm`")
    return text[start : text.index("\n### ", start + 1)]


def test_warm_flags_documented_both_ways(page: str) -> None:
    rows = [line for line in _warm_section(page).splitlines() if line.startswith("| `-")]
    documented = {flag for row in rows for flag in re.findall(r"`(--?[\w-]+)`", row.split("|")[1])}
    assert documented == parser_flags(make_warm_parser())


def test_every_imagebuild_flag_is_documented(page: str) -> None:
    flags = parser_flags()
    assert "--context" in flags
    text = section(page, 6)
    missing = sorted(flag for flag in flags if f"`{flag}`" not in text)
    assert not missing, f"imagebuild flags missing from section 6 of docs/reference.md: {missing}"


def test_every_documented_imagebuild_flag_exists(page: str) -> None:
    build_flags = section(page, 6).replace(_warm_section(page), "")
    rows = [line for line in build_flags.splitlines() if line.startswith("| `-")]
    documented = {flag for row in rows for flag in re.findall(r"`(--?[\w-]+)`", row.split("|")[1])}
    unknown = sorted(documented - parser_flags())
    assert not unknown, f"flags in the section 6 tables that imagebuild lacks: {unknown}"


def test_flags_called_not_accepted_are_not_accepted(page: str) -> None:
    match = re.search(r"Not accepted.*?(?=\n\n|\n- |\Z)", section(page, 6), re.DOTALL)
    assert match is not None, "section 6 has no 'Not accepted' list"
    listed = set(re.findall(r"`(--[\w-]+)`", match.group(0)))
    accepted = sorted(listed & parser_flags())
    assert not accepted, f"docs/reference.md calls these imagebuild flags not accepted: {accepted}"


def test_every_public_name_is_mentioned(page: str) -> None:
    missing = [name for name in pytest_imagebuild.__all__ if not re.search(rf"\b{name}\b", page)]
    assert not missing, f"names in pytest_imagebuild.__all__ missing from the page: {missing}"


def instance_attributes(cls: type) -> set[str]:
    """Public ``self.x = ...`` attributes set anywhere in the class body."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    names = set()
    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                names.add(target.attr)
    return {name for name in names if not name.startswith("_")}


def public_members(cls: type) -> set[str]:
    names = {name for name in dir(cls) if not name.startswith("_")}
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(cls)
        names |= {field.name for field in fields if field.repr}
        # A field hidden from repr (File.reader) is plumbing, not part of the value.
        names -= {field.name for field in fields if not field.repr}
    return names | instance_attributes(cls)


@pytest.mark.parametrize(
    "cls", [Image, File, Mode, Layer, HistoryEntry, Healthcheck, Package, Packages]
)
def test_every_public_attribute_is_mentioned(page: str, cls: type) -> None:
    api = section(page, 4)
    words = code_words(api)
    members = public_members(cls) - set(dir(int) if cls is Mode else ())
    assert members, f"found no public members of {cls.__name__}"
    missing = sorted(members - words)
    assert not missing, (
        f"public members of {cls.__name__} not named in code in section 4: {missing}"
    )


def test_every_marker_argument_is_described(page: str) -> None:
    arguments = re.findall(r"(\w+)=None", MARKER_SIGNATURE)
    assert "image" in arguments
    rows = [line for line in section(page, 2).splitlines() if line.startswith("| `")]
    described = {word for row in rows for word in re.findall(r"`(\w+)`", row.split("|")[1])}
    missing = sorted(set(arguments) - described)
    assert not missing, f"dockerfile marker arguments without a row in section 2: {missing}"


@pytest.mark.parametrize(
    "helper",
    [
        assert_file,
        assert_env,
        assert_layers,
        assert_no_files,
        assert_package,
        assert_no_packages,
        assert_efficiency,
    ],
)
def test_every_helper_argument_is_described(page: str, helper: Callable[..., object]) -> None:
    text = section(page, 5)
    name = helper.__name__
    heading = re.search(rf"^### `{name}\((.*?)\)", text, re.MULTILINE)
    assert heading is not None, f"section 5 has no heading for {name}(...)"
    parameters = set(inspect.signature(helper).parameters) - {"image"}
    missing = sorted(p for p in parameters if not re.search(rf"\b{p}\b", heading.group(1)))
    assert not missing, f"{name} parameters missing from its heading in section 5: {missing}"


def test_python_examples_compile(page: str) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    assert blocks, "docs/reference.md has no python examples"
    for block in blocks:
        compile(block, "docs/reference.md example", "exec")


def test_table_rows_have_the_header_columns(page: str) -> None:
    def cells(line: str) -> int:
        return len(re.split(r"(?<!\\)\|", line.strip())) - 2

    bad = []
    width = 0
    unfenced = FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), page)
    for number, line in enumerate(unfenced.splitlines(), 1):
        if not line.startswith("|"):
            width = 0
        elif width == 0:
            width = cells(line)
        elif cells(line) != width:
            bad.append(f"line {number}: {line[:60]}")
    assert not bad, f"table rows with a wrong number of cells: {bad}"
