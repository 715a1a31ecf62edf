"""Approved baselines: an image's inventory kept as reviewed text next to the test.

``assert_matches_baseline(image, name)`` writes ``__baselines__/<name>.txt`` beside the
calling test file the first time and passes; later it fails with the diff against that
file. ``--imagebuild-update-baselines`` (or the ini key, or IMAGEBUILD_UPDATE_BASELINES=1)
rewrites it instead. ``__baselines__/<name>.allow`` lists expected changes, one ignore rule
a line (path globs, fields, GLOB:FIELD, package rules, ``#`` comments), which never fail
the test. A baseline without a packages section (written before baselines recorded
packages) fails with a hint to rewrite it, unless the allow list ignores ``packages``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from pytest_imagebuild.diff import ImageDiff, Rules
from pytest_imagebuild.diff.files import compare_files
from pytest_imagebuild.diff.inventory import image_inventory
from pytest_imagebuild.diff.meta import compare_fields, config_fields
from pytest_imagebuild.diff.packages import compare_packages, image_packages
from pytest_imagebuild.diff.render import diff_lines
from pytest_imagebuild.errors import ImageBuildError, ImageFormatError, Location, UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.baselines_format import parse_baseline, render_baseline

__all__ = ["DIRECTORY", "UPDATE_ENV", "assert_matches_baseline", "baseline_text", "compare_text"]

DIRECTORY = "__baselines__"
UPDATE_ENV = "IMAGEBUILD_UPDATE_BASELINES"
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
LIMITS = {0: 10, 1: 50}


def baseline_text(image: Image, mtimes: bool = False) -> str:
    """The baseline text of ``image`` (every file digest is computed)."""
    return render_baseline(
        config_fields(image), image_inventory(image), mtimes, packages=image_packages(image)
    )


def _allow_rules(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def compare_text(
    old: str,
    new: str,
    where: str,
    allow: list[str] | tuple[str, ...] = (),
    update: str = "pytest --imagebuild-update-baselines",
) -> ImageDiff:
    """The diff from baseline text ``old`` to ``new``, leaving out ``allow`` rules.

    An ``old`` without a packages section is an ImageFormatError whose message also
    says whether the rest matches; ``update`` is the command its hint names."""
    rules = Rules.parse(allow)
    a, b = parse_baseline(old, where), parse_baseline(new, "the image")
    added, removed, changed = compare_files(a.files, b.files, rules)
    config = compare_fields(a.config, b.config, rules)
    result = ImageDiff(added=added, removed=removed, changed=changed, config=config)
    if rules.skips_packages:
        return result
    if a.packages is None:
        lines = ["the baseline has no [packages] section (it was written before baselines "]
        lines[0] += "recorded installed packages); "
        if result.is_empty:
            lines[0] += "the rest of it matches the image"
        else:
            lines[0] += "the rest of it differs from the image:"
            lines += diff_lines(result, None)
        raise ImageFormatError(
            "\n".join(lines),
            location=Location(where, 1),
            hint=f"run {update} to add the section and review it in the VCS diff, "
            "or allow 'packages' in the allow list",
        )
    packages = compare_packages(a.packages, b.packages or {}, rules)
    return ImageDiff(
        added=added, removed=removed, changed=changed, config=config, packages=packages
    )


def _update_requested() -> bool:
    return os.environ.get(UPDATE_ENV, "").lower() in ("1", "true", "yes")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def assert_matches_baseline(
    image: Image,
    name: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    update: bool | None = None,
    mtimes: bool = False,
    verbosity: int = 0,
) -> None:
    """Compare ``image`` with the approved baseline ``name`` (see the module docstring).

    ``directory`` defaults to ``__baselines__`` beside the calling file; ``update``
    defaults to what the pytest run asks for; ``mtimes`` also records file times."""
    if not NAME.fullmatch(name):
        raise UsageError(
            f"baseline name {name!r} is not a plain file name",
            hint="use letters, digits, '_', '.' and '-', not starting with '.'",
        )
    if directory is None:
        caller = sys._getframe(1).f_globals.get("__file__")
        if not caller:
            raise UsageError("assert_matches_baseline needs directory= when not called from a file")
        folder = Path(caller).resolve().parent / DIRECTORY
    else:
        folder = Path(directory)
    import pytest  # here, not at the top: the package imports without pytest (the command)

    path = folder / f"{name}.txt"
    text = baseline_text(image, mtimes)
    if (_update_requested() if update is None else update) or not path.exists():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            _write(path, text)
        return
    try:
        allow = _allow_rules(folder / f"{name}.allow")
        result = compare_text(path.read_text(encoding="utf-8"), text, str(path), allow)
    except ImageBuildError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # failed outside the handler, so pytest shows no chained exception
        pytest.fail(problem, pytrace=False)
    if result.is_empty:
        return
    lines = [f"the image does not match the baseline {path}:"]
    lines += diff_lines(result, LIMITS.get(verbosity))
    lines.append(
        "if these changes are intended, rewrite the baseline with pytest "
        f"--imagebuild-update-baselines, or list them in {folder / (name + '.allow')}"
    )
    pytest.fail("\n".join(lines), pytrace=False)
