"""A located finding: the one currency every loader, gate and reporter trades in."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Diagnostic(BaseModel):
    """One problem, located as precisely as we can, with what to do about it.

    ``key_path`` is the dotted path inside the document (``falsification_tests[3].test``);
    ``hint`` says how to fix it. Line and column are 1-based, as editors show them.
    """

    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None = None
    col: int | None = None
    key_path: str = ""
    message: str
    hint: str | None = None
    severity: Severity = Severity.ERROR
    code: str = "pv"

    @property
    def location(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.col is not None:
                loc += f":{self.col}"
        return loc

    def one_line(self) -> str:
        where = f" at {self.key_path}" if self.key_path else ""
        hint = f" (fix: {self.hint})" if self.hint else ""
        return f"{self.location}: {self.severity.value}[{self.code}]{where}: {self.message}{hint}"


def format_key_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def display_path(path: Path, root: Path | None = None) -> str:
    """Paths relative to the repo root when possible, so output is stable across machines."""
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)
