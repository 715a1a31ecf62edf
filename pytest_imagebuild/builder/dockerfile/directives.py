"""Parser directives (``# syntax=``, ``# escape=``, ``# check=``): only at the very top."""

from __future__ import annotations

import re

from pytest_imagebuild.builder.dockerfile.model import Directives

__all__ = ["DirectiveReader"]

_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_KNOWN = ("escape", "syntax", "check")


class DirectiveReader:
    """Reads directives line by line until the first line that is not one.

    ``feed`` raises ValueError for a repeated directive or a bad escape token; the
    caller turns it into a DockerfileError with the line.
    """

    def __init__(self) -> None:
        self.done = False
        self.values: dict[str, str] = {}
        self.escape = "\\"

    def feed(self, line: str) -> bool:
        """Look at one line (newline and leading space removed); True if it was a directive."""
        if self.done:
            return False
        match = _DIRECTIVE.match(line)
        if match is None or match.group(1).lower() not in _KNOWN:
            self.done = True
            return False
        name, value = match.group(1).lower(), match.group(2)
        if name in self.values:
            raise ValueError(f"only one {name} parser directive can be used")
        if name == "escape":
            if value not in ("\\", "`"):
                raise ValueError(f"invalid escape token {value!r} does not match ` or \\")
            self.escape = value
        self.values[name] = value
        return True

    def result(self) -> Directives:
        return Directives(
            escape=self.escape,
            syntax=self.values.get("syntax"),
            check=self.values.get("check"),
        )
