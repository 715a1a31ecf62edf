"""``assert_command``: run a command in the image and check its exit code and output at once.

Like the other helpers it reports every mismatch in one AssertionError, followed by the
command, its exit code and the tail of each stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.image.invocation import DEFAULT_TIMEOUT, RunResult
from pytest_imagebuild.plugin.assertions import _fail

__all__ = ["assert_command", "output_notes"]

Text = str | bytes | re.Pattern[str] | re.Pattern[bytes]
_TAIL_LINES = 20


def _items(value: Text | Iterable[Text] | None) -> list[Text]:
    if value is None:
        return []
    if isinstance(value, str | bytes | re.Pattern):
        return [value]
    return list(value)


def _found(item: Text, data: bytes) -> bool:
    if isinstance(item, bytes):
        return item in data
    if isinstance(item, str):
        return item in data.decode("utf-8", "replace")
    if isinstance(item.pattern, bytes):
        return item.search(data) is not None
    return item.search(data.decode("utf-8", "replace")) is not None


def _show(item: Text) -> str:
    return f"re {item.pattern!r}" if isinstance(item, re.Pattern) else repr(item)


def _tail(name: str, data: bytes) -> list[str]:
    if not data:
        return [f"{name}: (empty)"]
    lines = data.decode("utf-8", "replace").splitlines()
    cut = len(lines) - _TAIL_LINES
    head = f"{name} ({len(data)} bytes" + (f", last {_TAIL_LINES} lines)" if cut > 0 else "):")
    return [head + (":" if cut > 0 else ""), *(f"    {line}" for line in lines[-_TAIL_LINES:])]


def output_notes(result: RunResult) -> list[str]:
    """The lines a failure shows after its mismatches: command, exit code, both streams."""
    notes = [f"command: {list(result.argv)!r}", f"exit code: {result.exit_code}"]
    notes += _tail("stdout", result.stdout)
    if result.merged_output:
        notes.append("stderr: merged into stdout (the image has no /bin/sh)")
    else:
        notes += _tail("stderr", result.stderr)
    return notes


def _stream_problems(
    name: str,
    data: bytes,
    exact: str | bytes | None,
    contains: Text | Iterable[Text] | None,
    excludes: Text | Iterable[Text] | None,
) -> list[str]:
    problems = []
    if exact is not None:
        actual: str | bytes = data if isinstance(exact, bytes) else data.decode("utf-8", "replace")
        if actual != exact:
            problems.append(f"{name}: expected {exact!r}, found {actual!r}")
    problems += [
        f"{name}_contains: {_show(i)} not found" for i in _items(contains) if not _found(i, data)
    ]
    problems += [f"{name}_excludes: {_show(i)} found" for i in _items(excludes) if _found(i, data)]
    return problems


def assert_command(
    image: Image,
    command: Sequence[str] | str | None = None,
    *,
    exit_code: int | None = 0,
    stdout: str | bytes | None = None,
    stdout_contains: Text | Iterable[Text] | None = None,
    stdout_excludes: Text | Iterable[Text] | None = None,
    stderr: str | bytes | None = None,
    stderr_contains: Text | Iterable[Text] | None = None,
    stderr_excludes: Text | Iterable[Text] | None = None,
    entrypoint: Sequence[str] | str | None = None,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    workdir: str | None = None,
    stdin: bytes | str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> RunResult:
    """Run ``command`` with ``image.run`` and check the result; returns it when all match.

    ``stdout``/``stderr`` compare the whole stream (str: decoded as UTF-8, bytes: raw);
    ``*_contains`` and ``*_excludes`` take a str, bytes, compiled regex or a list of them.
    ``exit_code=None`` accepts any exit code.
    """
    __tracebackhide__ = True
    result = image.run(
        command,
        entrypoint=entrypoint,
        user=user,
        env=env,
        workdir=workdir,
        stdin=stdin,
        timeout=timeout,
    )
    wants_stderr = stderr is not None or stderr_contains is not None or stderr_excludes is not None
    if result.merged_output and wants_stderr:
        raise UsageError(
            "assert_command: stderr checks need /bin/sh in the image to keep stderr apart",
            hint="check stdout, which holds both streams for this image",
        )
    problems = []
    if exit_code is not None and result.exit_code != exit_code:
        problems.append(f"exit_code: expected {exit_code}, found {result.exit_code}")
    problems += _stream_problems("stdout", result.stdout, stdout, stdout_contains, stdout_excludes)
    problems += _stream_problems("stderr", result.stderr, stderr, stderr_contains, stderr_excludes)
    if problems:
        raise _fail(f"command {list(result.argv)!r}", problems, output_notes(result))
    return result
