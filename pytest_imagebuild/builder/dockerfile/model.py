"""Values the Dockerfile parser produces: directives, heredocs, instructions."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Directives", "Dockerfile", "Heredoc", "Instruction"]


@dataclass(frozen=True)
class Heredoc:
    """One here-document attached to a RUN, COPY or ADD instruction.

    ``body`` holds the lines between the opening line and the terminator, each with
    its line ending; with ``chomp`` (``<<-EOF``) leading tabs are already removed.
    ``expand`` is False when any part of the delimiter was quoted (``<<"EOF"``).
    """

    name: str
    body: str
    expand: bool = True
    chomp: bool = False
    fd: int = 0


@dataclass(frozen=True)
class Instruction:
    """One instruction as written, before any variable expansion.

    ``args`` follow Docker's parse tree: for ENV and LABEL they alternate key and value
    (``legacy_form`` is True for the old ``ENV key value`` spelling); for ARG each
    ``name[=default]`` word keeps its quotes; for HEALTHCHECK the first item is the type
    (``CMD``/``NONE``) and the rest is the command; ``json`` marks the exec (JSON) form.
    ONBUILD keeps its trigger in ``inner``. Lines are 1-based.
    """

    keyword: str
    original: str
    start_line: int
    end_line: int
    flags: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    inner: Instruction | None = None
    legacy_form: bool = False

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """ENV/LABEL key-value pairs (raw, unexpanded)."""
        return tuple(zip(self.args[::2], self.args[1::2], strict=False))

    def flag_values(self, name: str) -> tuple[str, ...]:
        """Every value given for ``--name``, in order (``""`` for a bare ``--name``)."""
        values = []
        for flag in self.flags:
            key, sep, value = flag[2:].partition("=")
            if key == name:
                values.append(value if sep else "")
        return tuple(values)

    def flag(self, name: str) -> str | None:
        """The last value given for ``--name``, or None when absent."""
        values = self.flag_values(name)
        return values[-1] if values else None

    def has_flag(self, name: str) -> bool:
        """True for a boolean flag given as ``--name`` or ``--name=true``."""
        value = self.flag(name)
        return value is not None and value.lower() in ("", "true")


@dataclass(frozen=True)
class Directives:
    """Parser directives found at the top of a Dockerfile."""

    escape: str = "\\"
    syntax: str | None = None
    check: str | None = None


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: its directives and instructions, in order."""

    path: str
    instructions: tuple[Instruction, ...]
    directives: Directives = field(default_factory=Directives)
    warnings: tuple[str, ...] = ()

    @property
    def escape(self) -> str:
        return self.directives.escape
