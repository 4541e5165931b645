"""How ``pv diff`` looks: each change with the bump it needs, worst first, then whether the version carries it."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.contract_diff import DiffReport, next_version
from pv.render.text import table
from pv.render.view import View

_COLOR = {"major": "red", "minor": "yellow", "patch": "cyan"}


def text(con: Console, report: DiffReport) -> None:
    if not report.changes:
        con.print(f"no contract change between {escape(report.old_name)} and {escape(report.new_name)}")
    else:
        tbl = table(f"{escape(report.old_name)} -> {escape(report.new_name)}: {len(report.changes)} change(s)",
                    ["bump", "where"])
        tbl.add_column("what", overflow="fold")
        for c in sorted(report.changes, key=lambda c: -c.bump):
            color = _COLOR[c.bump.label]
            tbl.add_row(f"[{color}]{c.bump.label}[/{color}]", escape(c.where), escape(c.what))
        con.print(tbl)
        needed = next_version(report.old_version, report.required)
        con.print(f"required bump: [bold]{report.required.label}[/bold] ({report.old_version} -> {needed} at least); "
                  f"version: {report.old_version} -> {report.new_version}")
    for problem in report.problems:
        con.print(f"[red]✗[/red] {escape(problem)}")
    if report.changes and report.ok:
        con.print("[green]the version bump and changelog match the change[/green]")


def to_json(report: DiffReport) -> dict[str, Any]:
    return {
        "command": "diff", "old": report.old_name, "new": report.new_name, "ok": report.ok,
        "old_version": report.old_version, "new_version": report.new_version,
        "required_bump": report.required.label,
        "version_bump": report.actual.label if report.actual is not None else "lower",
        "changes": [{"bump": c.bump.label, "where": c.where, "what": c.what} for c in report.changes],
        "problems": report.problems,
    }


VIEW = View(DiffReport, text, to_json)
