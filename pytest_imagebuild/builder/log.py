"""The build log: messages at kaniko's levels, in kaniko's three formats, and RUN output.

``--log-format color`` (kaniko's default) and ``text`` print what logrus's text formatter
prints, ``json`` one JSON object per message; ``plain`` (the plugin's, and the kept
``build.log``) is the message alone. RUN output is passed through unformatted, as kaniko
writes a command's output straight to its own. Modules log through Python's ``logging``
under ``pytest_imagebuild.builder``; while a build runs, those records reach this log at
the level ``--verbosity`` sets (``debug`` shows cache decisions and registry requests).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TextIO

from pytest_imagebuild.builder.dockerfile.dump import go_quote  # logrus quotes as Go's %q

__all__ = ["FORMATS", "LEVELS", "BuildLog", "LogSettings"]

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic")
FORMATS = ("plain", "text", "color", "json")
Format = Literal["plain", "text", "color", "json"]

# logrus's names and colours for each level
_NAMES = {"warn": "warning"}
_COLOURS = {"trace": 37, "debug": 37, "warn": 33, "error": 31, "fatal": 31, "panic": 31}
_PYTHON_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
_LOGGER = "pytest_imagebuild.builder"


@dataclass(frozen=True)
class LogSettings:
    """What ``--verbosity``, ``--log-format`` and ``--log-timestamp`` ask for."""

    level: str = "info"
    format: Format = "plain"
    timestamps: bool = False

    def shows(self, level: str) -> bool:
        return LEVELS.index(level) >= LEVELS.index(self.level)


_LOGFMT_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def _value(text: str) -> str:
    return text if text and set(text) <= _LOGFMT_PLAIN else go_quote(text)


def _rfc3339(moment: float) -> str:
    stamp = datetime.fromtimestamp(int(moment), UTC).astimezone()
    text = stamp.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class BuildLog:
    """Where a build's messages and RUN output go: ``stream`` (at the settings' level and
    format) and ``copy`` (a kept build directory's ``build.log``: every message, plain)."""

    def __init__(
        self,
        settings: LogSettings,
        stream: TextIO | None,
        copy: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.stream = stream
        self.copy = copy
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()

    def message(self, text: str, level: str = "info") -> None:
        text = text.rstrip("\n")
        with self._lock:
            if self.copy is not None:
                self.copy.write(text + "\n")
                self.copy.flush()
            if self.stream is not None and self.settings.shows(level):
                self.stream.write(self.format(text, level))
                self.stream.flush()

    def output(self, text: str) -> None:
        """A command's own output, as it came."""
        with self._lock:
            if self.copy is not None:
                self.copy.write(text)
                self.copy.flush()
            if self.stream is not None:
                self.stream.write(text)
                self.stream.flush()

    def format(self, text: str, level: str) -> str:
        fmt, now = self.settings.format, self.clock()
        name = _NAMES.get(level, level)
        if fmt == "plain":
            return text + "\n"
        if fmt == "json":
            record = {"level": name, "msg": text, "time": _rfc3339(now)}
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            # Go's encoder escapes these, as logrus's JSON formatter does
            for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
                line = line.replace(char, escape)
            return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"
        if fmt == "text":
            return f"time={_value(_rfc3339(now))} level={name} msg={_value(text)}\n"
        when = _rfc3339(now) if self.settings.timestamps else f"{int(now - self.started):04d}"
        colour = _COLOURS.get(level, 36)
        return f"\x1b[{colour}m{name.upper()[:4]}\x1b[0m[{when}] {text:<44} \n"

    @contextmanager
    def capturing(self) -> Iterator[None]:
        """Route the builder's ``logging`` records here while the block runs."""
        handler = _Handler(self)
        target = logging.getLogger(_LOGGER)
        before = target.level
        target.addHandler(handler)
        target.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            target.removeHandler(handler)
            target.setLevel(before)


class _Handler(logging.Handler):
    def __init__(self, log: BuildLog) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = _PYTHON_LEVELS.get(record.levelno, "info")
        if record.levelno < logging.DEBUG:
            level = "trace"
        try:
            self.log.message(record.getMessage(), level)
        except (OSError, ValueError):  # a closed stream: the build goes on
            self.handleError(record)
