"""How ``pv validate`` looks: one line per problem, a tick per valid file."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from pv.render.sarif import SarifRun, described, diagnostic_finding
from pv.render.text import print_diagnostics
from pv.render.view import View
from pv.validate import ValidationReport


def text(con: Console, report: ValidationReport) -> None:
    print_diagnostics(con, report.diagnostics)
    for lc in report.loaded:
        if lc.ok:
            con.print(f"[green]✓[/green] {lc.display}")
    color = "red" if report.failed else "green"
    total = len(report.loaded)
    con.print(f"[{color}]{total - report.failed}/{total} contracts valid[/{color}]")


def to_json(report: ValidationReport) -> dict[str, Any]:
    return {"command": "validate", "files": len(report.loaded), "failed": report.failed,
            "results": [{"file": lc.display, "ok": lc.ok, "id": lc.id} for lc in report.loaded],
            "diagnostics": [d.model_dump(mode="json") for d in report.diagnostics]}


def sarif(report: ValidationReport) -> SarifRun:
    return SarifRun("pv", described({"schema": "contract schema validation"}),
                    [diagnostic_finding(d) for d in report.diagnostics])


VIEW = View(ValidationReport, text, to_json, sarif, lambda report: report.diagnostics)
