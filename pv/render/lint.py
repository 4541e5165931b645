"""How ``pv lint`` looks: the located problems, then one row per gate."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.lint import LintReport
from pv.render.sarif import SarifRun, described, diagnostic_finding
from pv.render.text import print_diagnostics, table
from pv.render.view import View


def text(con: Console, report: LintReport) -> None:
    print_diagnostics(con, report.diagnostics)
    tbl = table(f"pv lint: {report.files} contract file(s)", ["#", "gate", "result", "err", "warn", "checks"])
    for i, r in enumerate(report.results, 1):
        verdict = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
        tbl.add_row(str(i), r.name, verdict, str(r.errors), str(r.warnings), f"[dim]{escape(r.title)}[/dim]")
    con.print(tbl)
    color = "green" if report.passed else "red"
    con.print(f"[{color}]{sum(r.passed for r in report.results)}/{len(report.results)} gates PASS[/{color}]")


def to_json(report: LintReport) -> dict[str, Any]:
    return {"command": "lint", "files": report.files, "passed": report.passed,
            "gates": [{"name": r.name, "title": r.title, "passed": r.passed, "errors": r.errors,
                       "warnings": r.warnings} for r in report.results],
            "diagnostics": [d.model_dump(mode="json") for d in report.diagnostics]}


def sarif(report: LintReport) -> SarifRun:
    return SarifRun("pv", described({r.name: r.title for r in report.results}),
                    [diagnostic_finding(d) for d in report.diagnostics])


VIEW = View(LintReport, text, to_json, sarif, lambda report: report.diagnostics)
