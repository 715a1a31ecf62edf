"""Structure-test YAML files as pytest items: one item per test of the file.

``--imagebuild-structure-tests GLOB[=IMAGE]`` (and the ``imagebuild_structure_tests`` ini key,
one entry per line) name the files. IMAGE is an image tarball or OCI layout, or a Dockerfile
(a file named ``Dockerfile``, ``Dockerfile.*`` or ``*.Dockerfile``), built with its directory
as the context; without it the files run on ``--imagebuild-image`` / ``imagebuild_image``.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.plugin.factory import ImageFactory
from pytest_imagebuild.plugin.sources import BuildSpec, ImageSource, TarballSource, no_image_error
from pytest_imagebuild.plugin.structure_checks import CHECKS
from pytest_imagebuild.plugin.structure_suite import Case, Suite, load_suite
from pytest_imagebuild.plugin.structure_yaml import SuiteError

__all__ = ["StructureFile", "StructureItem", "structure_files"]

FactoryOf = Callable[[], ImageFactory]


class StructureFailure(AssertionError):
    """One case failed: its mismatches and context, rendered like the assertion helpers."""

    def __init__(self, title: str, problems: tuple[str, ...], notes: tuple[str, ...]) -> None:
        super().__init__(title)
        self.title = title
        self.problems = problems
        self.notes = notes

    def __str__(self) -> str:
        count = f"{len(self.problems)} mismatch" + ("es" if len(self.problems) != 1 else "")
        lines = [f"{self.title}: {count}", *(f"  {p}" for p in self.problems), *self.notes]
        return "\n".join(lines)


def _is_dockerfile(path: Path) -> bool:
    name = path.name
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def _source(value: str, base: Path, origin: str) -> ImageSource:
    path = (base / value.strip()).absolute()
    if _is_dockerfile(path):
        return BuildSpec(dockerfile=path, context=path.parent, origin=origin)
    return TarballSource(path, None, origin)


def structure_files(config: pytest.Config) -> dict[Path, ImageSource | None]:
    """Every file the option and ini key name, with the image it runs on (None: configured)."""
    entries: list[tuple[str, Path, str]] = []
    for value in config.getoption("imagebuild_structure_tests") or []:
        entries.append((str(value), config.invocation_params.dir, "--imagebuild-structure-tests"))
    if not entries:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        for value in config.getini("imagebuild_structure_tests"):
            if str(value).strip():
                entries.append((str(value).strip(), base, "imagebuild_structure_tests"))
    found: dict[Path, ImageSource | None] = {}
    for value, base, origin in entries:
        pattern, sep, image = value.partition("=")
        source = _source(image, base, f"{origin} {value!r}") if sep and image.strip() else None
        matches = glob.glob(str(base / pattern.strip()), recursive=True)
        if not matches:
            raise pytest.UsageError(f"{origin}: {pattern.strip()!r} matches no file under {base}")
        for match in sorted(matches):
            found[Path(match).absolute()] = source
    return found


class StructureFile(pytest.File):
    """A container-structure-test YAML file."""

    def __init__(self, *, source: ImageSource | None, factory_of: FactoryOf, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.factory_of = factory_of

    def collect(self) -> Iterator[StructureItem]:
        try:
            suite = load_suite(self.path)
        except SuiteError as error:
            raise self.CollectError(str(error)) from None
        for case in suite.cases:
            yield StructureItem.from_parent(
                self, name=f"{case.kind}[{case.name}]", suite=suite, case=case
            )


class StructureItem(pytest.Item):
    """One structure test, run on the file's image."""

    def __init__(self, *, suite: Suite, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case

    def runtest(self) -> None:
        parent = self.parent
        if not isinstance(parent, StructureFile):
            raise TypeError("a StructureItem belongs to a StructureFile")
        source = parent.source
        if source is None:
            raise no_image_error(self.nodeid)
        image = parent.factory_of().get(source)
        problems, notes = CHECKS[self.case.kind](image, self.suite, self.case)
        if problems:
            where = f"{self.path.name}:{self.case.line}"
            raise StructureFailure(
                f"{self.case.kind} {self.case.name!r} ({where})", tuple(problems), tuple(notes)
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, StructureFailure | ImageBuildError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.case.kind}: {self.case.name}"
