"""Parity runs: every image built by two executors, and a difference fails the test.

``--imagebuild-parity docker`` keeps the session's executor for the image the tests get and
builds each spec a second time with the other executor (its own cache key, so both results
are cached). The two tarballs are compared with :func:`pytest_imagebuild.diff.diff` in the
semantic mode (:data:`~pytest_imagebuild.diff.ignore.SEMANTIC_FIELDS`: times, history text,
the layers' byte encoding and docker's builder bookkeeping do not count) plus the session's
own rules; a difference is a
:class:`~pytest_imagebuild.errors.ParityError` listing it, raised where the image is asked
for, once per spec and session.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from pytest_imagebuild.diff import diff
from pytest_imagebuild.diff.render import diff_lines
from pytest_imagebuild.errors import ImageBuildError, ParityError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.builds import BuildSettings, ImageBuilder
from pytest_imagebuild.plugin.sources import BuildSpec

__all__ = ["ParityBuilder"]


class ParityBuilder(ImageBuilder):
    """An :class:`ImageBuilder` that also builds with ``settings.parity`` and compares."""

    def __init__(self, settings: BuildSettings) -> None:
        super().__init__(settings)
        other = settings.parity or settings.executor
        self.other = ImageBuilder(replace(settings, executor=other, parity=None))
        self.other.records = self.records  # one summary for both executors
        self._compared: dict[str, ParityError | None] = {}

    def build(self, spec: BuildSpec) -> Path:
        """The tarball of the session's executor, once the other executor's matches it."""
        __tracebackhide__ = True
        tarball = super().build(spec)
        key = self.key(spec)
        if key not in self._compared:
            try:
                other = self.other.build(spec)
            except ImageBuildError as exc:
                self._compared[key] = None
                raise self._other_failed(spec, exc) from None
            self._compared[key] = self._compare(spec, tarball, other)
        error = self._compared[key]
        if error is not None:
            raise _fresh(error)
        return tarball

    def log_of(self, error: BaseException) -> str | None:
        return super().log_of(error) or self.other.log_of(error)

    def _other_failed(self, spec: BuildSpec, error: ImageBuildError) -> ImageBuildError:
        again = _fresh(error)
        again.message = (
            f"parity: the {self.other.settings.executor} executor failed where "
            f"{self.settings.executor} built {spec.describe()}: {error.message}"
        )
        log = self.other.log_of(error)
        if log is not None:
            self._logs[id(again)] = log
        return again

    def _compare(self, spec: BuildSpec, mine: Path, theirs: Path) -> ParityError | None:
        with Image.open(mine) as a, Image.open(theirs) as b:
            found = diff(a, b, ignore=self.settings.parity_ignore, semantic=True)
        if not found:
            return None
        first, second = self.settings.executor, self.other.settings.executor
        lines = "\n".join("  " + line for line in diff_lines(found, limit=None))
        return ParityError(
            f"parity: {first} and {second} built different images from {spec.describe()} "
            f"(old: {first}, new: {second}):\n{lines}",
            hint="make the step reproducible, or ignore what may differ with "
            "--imagebuild-parity-ignore RULE (a path glob or a field, as imagebuild diff "
            "--ignore takes)",
        )


def _fresh(error: ImageBuildError) -> ImageBuildError:
    again = copy.copy(error)
    again.__traceback__ = None
    return again
