"""``[tool.pv]`` in ``pyproject.toml``: where a repository keeps its contracts, tests, evidence and ledger.

Every key is optional; a missing one keeps today's layout. An unknown key is an error with a
did-you-mean (``contract`` -> ``contracts``), located by line, because a misspelt setting that is
silently ignored would send pv looking in the wrong place while reporting green. Paths are
relative to the repository root and may not leave it.

    [tool.pv]
    contracts = ["specs/*.yaml"]          # globs of contract files
    test_dirs = ["checks", "tests"]       # scanned (AST only) for bound tests and falsifies markers
    evidence_dir = "evidence"             # LIVE runs land in <evidence_dir>/<contract-id>/<stamp>/
    ledger = ".pv/ledger.json"            # the verdict ledger pv verify writes
    coverage_floor = 1                    # pv coverage --floor default (the vacuity guard)
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from pv.diagnostics import display_path
from pv.fileio import read_text
from pv.workspace import Settings

PYPROJECT = "pyproject.toml"

RelPath = Annotated[str, Field(min_length=1)]


class ConfigError(Exception):
    """``[tool.pv]`` cannot be used; the message is one located line saying what to change."""


class PvConfig(BaseModel):
    """The ``[tool.pv]`` table as written; ``None`` means "not set: keep the default"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contracts: list[RelPath] | None = Field(default=None, description="globs of contract files")
    test_dirs: list[RelPath] | None = Field(default=None, description="folders scanned for bound tests")
    evidence_dir: RelPath | None = Field(default=None, description="folder of LIVE evidence runs")
    ledger: RelPath | None = Field(default=None, description="the verdict ledger file")
    coverage_floor: StrictInt | None = Field(default=None, ge=0, description="pv coverage --floor default")

    @field_validator("contracts", "test_dirs", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("contracts", "test_dirs", "evidence_dir", "ledger")
    @classmethod
    def _inside_repo(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else [value]:
            path = PurePosixPath(item.replace("\\", "/"))
            if path.is_absolute() or item.startswith("~") or ".." in path.parts:
                raise ValueError(f"{item!r} must be a path relative to the repository root, inside it")
        return value

    def overrides(self) -> dict[str, Any]:
        """The keys that were set, as values for ``pv.workspace.Settings`` (lists become tuples)."""
        return {k: tuple(v) if isinstance(v, list) else v for k, v in self.model_dump(exclude_none=True).items()}


def settings_for(root: Path) -> Settings:
    """The layout of the repository at ``root``: today's defaults, overridden by its ``[tool.pv]``."""
    return Settings(**read_config(root).overrides())


def read_config(root: Path) -> PvConfig:
    """The ``[tool.pv]`` table of ``root/pyproject.toml``; all defaults when there is no file or no table."""
    path = root / PYPROJECT
    shown = display_path(path)
    try:
        text = read_text(path)  # a regular file only: a FIFO here would hang every command
    except FileNotFoundError:
        return PvConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("pv")
    if table is None:
        return PvConfig()
    if not isinstance(table, dict):
        raise ConfigError(f"{shown}: tool.pv must be a table ([tool.pv]), not a {type(table).__name__}")
    try:
        return PvConfig.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, shown, text)) from None


def _explain(exc: ValidationError, path: str, text: str) -> str:
    lines = []
    known = sorted(PvConfig.model_fields)
    for err in exc.errors(include_url=False):
        key = str(err["loc"][0]) if err["loc"] else "tool.pv"
        where = f"{path}:{_line_of(text, key)}" if _line_of(text, key) else path
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key.replace("-", "_"), known, n=1, cutoff=0.5)
            hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
            lines.append(f"{where}: [tool.pv] unknown key {key!r} ({hint})")
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: [tool.pv] {key}: {message}")
    return "\n".join(lines)


def _line_of(text: str, key: str) -> int | None:
    """The line of ``key = ...`` inside the ``[tool.pv]`` table, for the error location."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = re.fullmatch(r"\[\s*tool\s*\.\s*pv\s*\]", stripped.split("#")[0].strip()) is not None
        elif inside and re.match(rf"""["']?{re.escape(key)}["']?\s*=""", stripped):
            return number
    return None
