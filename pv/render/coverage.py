"""How ``pv coverage`` looks: bound and passing ratios per contract and in total, then notes and failures."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.coverage import CoverageReport
from pv.render.text import table
from pv.render.view import View


def text(con: Console, report: CoverageReport) -> None:
    tbl = table("pv coverage", ["contract", "declared", "bound", "bound %", "passing", "passing %", "mutated",
                                "mutation score"])
    for cid, c in [*report.by_contract.items(), ("TOTAL", report.total)]:
        inert = f" ({c.inert} INERT)" if c.inert else ""
        score = f"{c.mutation_score:.1f}% ({c.detected}/{c.competent})" if c.competent else "-"
        tbl.add_row(cid, str(c.declared), f"{c.bound} ({c.live} LIVE)", f"{c.bound_pct:.1f}", str(c.passing),
                    f"{c.passing_pct:.1f}", f"{c.mutated}{inert}", score)
    con.print(tbl)
    for note in report.notes:
        con.print(f"[cyan]note[/cyan]: {escape(note)}")
    for problem in report.problems:
        con.print(f"[red]FAIL[/red]: {escape(problem)}")
    if report.ok:
        con.print("[green]coverage OK[/green]")


def to_json(report: CoverageReport) -> dict[str, Any]:
    return {"command": "coverage", "ok": report.ok, "total": report.total.as_dict(),
            "contracts": {k: v.as_dict() for k, v in report.by_contract.items()},
            "problems": report.problems, "notes": report.notes}


VIEW = View(CoverageReport, text, to_json)
