"""``pv validate`` as a library: load contracts and report what the schema finds, nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pv.diagnostics import Diagnostic
from pv.loader import LoadedContract
from pv.workspace import Workspace


@dataclass(frozen=True)
class ValidationReport:
    loaded: list[LoadedContract]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for lc in self.loaded for d in lc.diagnostics]

    @property
    def failed(self) -> int:
        return sum(not lc.ok for lc in self.loaded)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def validate(ws: Workspace, paths: list[Path]) -> ValidationReport:
    return ValidationReport(ws.load(paths))
