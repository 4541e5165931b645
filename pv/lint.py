"""Run the lint gates over a set of contracts and collect one result per gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from pv.diagnostics import Diagnostic, Severity
from pv.gates import GATES, SINCE_GATE
from pv.lint_context import LintContext
from pv.workspace import Workspace


@dataclass(frozen=True)
class GateResult:
    name: str
    title: str
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)

    @property
    def passed(self) -> bool:
        return self.errors == 0


@dataclass(frozen=True)
class LintReport:
    files: int
    results: list[GateResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for r in self.results for d in r.diagnostics]


@dataclass(frozen=True)
class GateCatalog:
    """The registered gates, in order: what ``pv gates`` lists and the README's gate table is made from."""

    gates: list[ModuleType] = field(default_factory=lambda: list(GATES))


def lint(ws: Workspace, paths: list[Path], *, strict_test_binding: bool = False,
         since: tuple[str, str] | None = None) -> LintReport:
    """Run every gate; with ``since`` (a ref as given and its commit), also the version-bump gate against it."""
    ctx = LintContext(ws, ws.load(paths), strict_test_binding, since)
    gates = [*GATES, SINCE_GATE] if since is not None else GATES
    results = [GateResult(g.GATE.name, g.GATE.title, g.check(ctx)) for g in gates]
    return LintReport(files=len(paths), results=results)
