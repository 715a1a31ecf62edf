"""What every step needs: the instruction, where it is written, and word expansion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_imagebuild.builder.dockerfile.expand import expand_word
from pytest_imagebuild.builder.dockerfile.model import Instruction
from pytest_imagebuild.errors import DockerfileError, Location

__all__ = ["Where", "invalid"]


@dataclass(frozen=True)
class Where:
    """An instruction with its Dockerfile path and escape character."""

    instruction: Instruction
    path: str = "Dockerfile"
    escape: str = "\\"

    @property
    def keyword(self) -> str:
        return self.instruction.keyword.upper()

    @property
    def location(self) -> Location:
        return Location(self.path, self.instruction.start_line)

    def expand(self, word: str, env: Mapping[str, str]) -> str:
        try:
            return expand_word(word, env, self.escape)
        except DockerfileError as exc:
            raise DockerfileError(
                f"{self.keyword}: {exc.message}", location=self.location, hint=exc.hint
            ) from exc

    def error(self, message: str, hint: str | None = None) -> DockerfileError:
        return invalid(self, message, hint)


def invalid(where: Where, message: str, hint: str | None = None) -> DockerfileError:
    return DockerfileError(
        f"{where.keyword}: {message}\n  instruction: {where.instruction.original.strip()}",
        location=where.location,
        hint=hint,
    )
