"""The package's data flows one way: plugin -> factory -> {builder, image}."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_imagebuild"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_under(sub: str) -> list[Path]:
    found = sorted((PACKAGE / sub).rglob("*.py"))
    assert found, f"no modules under {sub}/"
    return found


@pytest.mark.parametrize(
    ("side", "forbidden"),
    [
        (
            "image",
            (
                "pytest_imagebuild.builder",
                "pytest_imagebuild.plugin",
                "pytest_imagebuild.efficiency",
            ),
        ),
        (
            "efficiency",
            ("pytest", "_pytest", "pytest_imagebuild.builder", "pytest_imagebuild.plugin"),
        ),
        (
            "packages",
            ("pytest", "_pytest", "pytest_imagebuild.builder", "pytest_imagebuild.plugin"),
        ),
        ("builder", ("pytest", "_pytest", "pytest_imagebuild.image", "pytest_imagebuild.plugin")),
        (
            "diff",
            (
                "pytest",
                "_pytest",
                "pytest_imagebuild.builder",
                "pytest_imagebuild.plugin",
                "pytest_imagebuild.cli",
            ),
        ),
    ],
)
def test_side_does_not_import(side: str, forbidden: tuple[str, ...]) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules_under(side)
        for name in imports_of(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


def test_no_assert_statements_in_library_code() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []


def test_no_module_over_800_lines() -> None:
    long = [
        f"{p.relative_to(PACKAGE)}: {n}"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800
    ]
    assert long == []


def test_diff_imports_only_image_packages_errors_and_oci() -> None:
    # packages/ is read-side like diff/ and never imports it (the packages test below), so
    # the package section of a diff keeps the arrows one way.
    allowed = ("pytest_imagebuild.image", "pytest_imagebuild.diff", "pytest_imagebuild.packages")
    allowed += ("pytest_imagebuild.errors", "pytest_imagebuild.oci")
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules_under("diff")
        for name in imports_of(path)
        if name.startswith("pytest_imagebuild")
        and not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert offenders == []


def test_image_reaches_diff_only_inside_image_diff() -> None:
    # Image.diff imports diff/ in its body: the one way back, kept to a few lines.
    offenders = []
    for path in modules_under("image"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "pytest_imagebuild.diff"
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_the_package_and_the_command_import_without_pytest() -> None:
    """The ``imagebuild`` command runs where pytest is not installed (the tool's own image)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pytest'] = None; import pytest_imagebuild, pytest_imagebuild.cli"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_packages_imports_only_image_errors_and_oci() -> None:
    allowed = ("pytest_imagebuild.image", "pytest_imagebuild.errors", "pytest_imagebuild.oci")
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules_under("packages")
        for name in imports_of(path)
        if name.startswith("pytest_imagebuild")
        and not name.startswith("pytest_imagebuild.packages")
        and not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert offenders == []


def test_image_reaches_packages_only_inside_image_packages() -> None:
    """``Image.packages`` imports the packages library when called; nothing else in
    image/ may import it, and not at module level."""
    found = []
    for path in modules_under("image"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.Module):
                continue
            for node in (
                ast.iter_child_nodes(func) if isinstance(func, ast.Module) else ast.walk(func)
            ):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "pytest_imagebuild.packages"
                ):
                    where = func.name if isinstance(func, ast.FunctionDef) else "<module>"
                    found.append(f"{path.relative_to(PACKAGE)}:{where}")
    assert found == ["image/image.py:packages"]


def test_the_command_does_not_load_pytest() -> None:
    """Start-up time: the command and the diff never import pytest or the plugin, while the
    package's pytest-side names still resolve when asked for."""
    import subprocess
    import sys

    code = (
        "import sys, pytest_imagebuild.cli, pytest_imagebuild.cli_diff\n"
        "import pytest_imagebuild.cli_warm\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m == 'pytest' or m.startswith('pytest_imagebuild.plugin'))\n"
        "assert not loaded, loaded\n"
        "from pytest_imagebuild import assert_file, BuildSpec\n"
        "assert 'pytest_imagebuild.plugin.assertions' in sys.modules\n"
        "assert 'assert_file' in dir(pytest_imagebuild)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_build_command_loads_only_the_builder() -> None:
    """Start-up time of a build: the read side (image, diff, packages, efficiency) is
    imported only when named, and every export still resolves."""
    import subprocess
    import sys

    code = (
        "import sys, pytest_imagebuild.cli\n"
        "library = ('image', 'diff', 'packages', 'efficiency')\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m.split('.')[1:2] and m.split('.')[1] in library\n"
        "                and m.startswith('pytest_imagebuild.'))\n"
        "assert not loaded, loaded\n"
        "import pytest_imagebuild\n"
        "missing = [n for n in pytest_imagebuild.__all__ if not hasattr(pytest_imagebuild, n)]\n"
        "assert not missing, missing\n"
        "assert callable(pytest_imagebuild.diff.diff)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
