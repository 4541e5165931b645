"""Run the lint gates over a set of contracts and collect one result per gate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pv.context import LintContext, load_all
from pv.diagnostics import Diagnostic, Severity
from pv.gates import GATES


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


def lint(paths: list[Path], root: Path, *, strict_test_binding: bool = False) -> LintReport:
    ctx = LintContext(root=root, loaded=load_all(paths, root), strict_test_binding=strict_test_binding)
    results = [GateResult(g.name, g.title, g.check(ctx)) for g in GATES]
    return LintReport(files=len(paths), results=results)
