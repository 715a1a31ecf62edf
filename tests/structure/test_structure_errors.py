"""Bad structure-test files are collection errors naming the file and line, never tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.structure.suites import structure_project

CASES = [
    (
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    path: [unclosed\n",
        "cst.yaml:5: invalid YAML: while parsing a flow sequence expected ',' or ']'*",
    ),
    (
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    path: /a\n    mode: x\n",
        "cst.yaml:5: fileExistenceTests[0]: unknown key 'mode' (known: name, path, *)",
    ),
    (
        "schemaVersion: 2.0.0\ncommandTest:\n  - name: a\n",
        "cst.yaml:2: unknown top-level key 'commandTest' (known: *commandTests*)",
    ),
    (
        "schemaVersion: 2.0.0\nmetadataTest:\n  env: [PATH]\n",
        "cst.yaml:3: metadataTest: unknown key 'env' (known: envVars, *)",
    ),
    (
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    uid: zero\n    path: /a\n",
        "cst.yaml:4: fileExistenceTests[0].uid: expected a int, found 'zero'",
    ),
    (
        "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    args: [x]\n",
        "cst.yaml:3: commandTests[0]: missing required key 'command'",
    ),
    (
        "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    command: x\n    setup: [[]]\n",
        "cst.yaml:5: commandTests[0].setup: empty command",
    ),
    (
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    path: /a\n"
        "    isExecutableBy: everyone\n",
        "cst.yaml:5: fileExistenceTests[0].isExecutableBy: 'everyone' is not one of any, *",
    ),
    ("schemaVersion: 1.0.0\n", "cst.yaml:1: schemaVersion must be '2.0.0', found '1.0.0'"),
    ("- a\n- b\n", "cst.yaml:1: a structure-test file must be a mapping with schemaVersion*"),
    (
        "schemaVersion: 2.0.0\nschemaVersion: 2.0.0\n",
        "cst.yaml:2: invalid YAML: duplicate key 'schemaVersion'",
    ),
    (
        "schemaVersion: 2.0.0\ncontainerRunOptions:\n  privileged: true\n",
        "cst.yaml:3: containerRunOptions.privileged is not supported: commands run in the*",
    ),
]
NAMES = [
    "bad-yaml",
    "unknown-key",
    "unknown-top-level-key",
    "cst-key-spelling",
    "wrong-type",
    "missing-required",
    "empty-setup-command",
    "bad-executable-by",
    "schema-version",
    "not-a-mapping",
    "duplicate-key",
    "privileged",
]


def test_bad_files_are_collection_errors_with_file_and_line(
    pytester: pytest.Pytester, app_image_tar: Path
) -> None:
    files = {f"{name}.yaml": text for name, (text, _) in zip(NAMES, CASES, strict=True)}
    structure_project(pytester, app_image_tar, files)
    result = pytester.runpytest()
    result.assert_outcomes(errors=len(CASES))
    for name, (_, message) in zip(NAMES, CASES, strict=True):
        escaped = message.replace("[", "[[]").replace("cst.yaml", f"{name}.yaml", 1)
        result.stdout.fnmatch_lines([f"*ERROR collecting {name}.yaml*", f"*/{escaped}"])
    assert "Traceback" not in result.stdout.str()
    assert "structure_yaml.py" not in result.stdout.str()


def test_glob_matching_nothing_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nimagebuild_structure_tests = missing/*.yaml\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*imagebuild_structure_tests: 'missing/*.yaml' matches no file*"])


def test_without_an_image_each_test_says_how_to_name_one(
    pytester: pytest.Pytester, app_image_tar: Path
) -> None:
    text = "schemaVersion: 2.0.0\nfileExistenceTests:\n  - {name: a, path: /bin}\n"
    structure_project(pytester, app_image_tar, {"cst.yaml": text}, entry="cst.yaml")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no image configured*", "*hint: pass --imagebuild-image PATH*"])
    assert "Traceback" not in result.stdout.str()


def test_option_names_files_and_the_configured_image(
    pytester: pytest.Pytester, app_image_tar: Path
) -> None:
    text = "schemaVersion: 2.0.0\nfileExistenceTests:\n  - {name: a, path: /bin/busybox}\n"
    structure_project(pytester, app_image_tar, {"suites/a.yaml": text, "suites/b.yaml": text})
    result = pytester.runpytest(
        "--imagebuild-structure-tests", "suites/*.yaml", "--imagebuild-image", "image.tar", "-v"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(["suites/a.yaml::*PASSED*", "suites/b.yaml::*PASSED*"])


def test_named_files_outside_testpaths_stop_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**{"tests/test_a.py": "def test_a():\n    pass\n"})
    (pytester.path / "cst").mkdir()
    (pytester.path / "cst" / "a.yaml").write_text("schemaVersion: 2.0.0\n")
    pytester.makeini("[pytest]\ntestpaths = tests\nimagebuild_structure_tests = cst/*.yaml\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*structure-test files outside the collected paths (tests)*"])
    # Paths chosen on the command line run what they name.
    assert pytester.runpytest("tests").ret == pytest.ExitCode.OK
