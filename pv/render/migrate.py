"""How ``pv migrate`` looks: per file what changed (or would), or what still needs a person."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.migrate import MigrationReport
from pv.render.view import View


def text(con: Console, report: MigrationReport) -> None:
    for r in report.results:
        if r.needs:
            con.print(f"[red]{escape(r.file)}[/red]: needs a person (not written):")
            for need in r.needs:
                con.print(f"  [red]✗[/red] {escape(need)}")
        elif not r.changes:
            con.print(f"[dim]{escape(r.file)}: already in pv's format[/dim]")
        else:
            verb = "migrated" if r.written else "would migrate"
            con.print(f"[green]{escape(r.file)}[/green]: {verb}, version {r.version}:")
            for change in r.changes:
                con.print(f"  + {escape(change)}")
            if report.show_diff and r.diff:
                con.print(escape(r.diff), highlight=False)
    migrated = sum(r.ok and bool(r.changes) for r in report.results)
    failed = sum(not r.ok for r in report.results)
    tail = "" if report.write or not migrated else " (nothing written: pass --write)"
    color = "red" if failed else "green"
    con.print(f"[{color}]{migrated} {'migrated' if report.write else 'to migrate'}, {failed} need a person, "
              f"{sum(r.unchanged for r in report.results)} already in pv's format{tail}[/{color}]")
    if migrated and any(c.startswith("kind: ") for r in report.results for c in r.changes):
        con.print("[dim]kinds were mapped by pv's default table (or --kind): check that each fits[/dim]")


def to_json(report: MigrationReport) -> dict[str, Any]:
    return {"command": "migrate", "ok": report.ok, "write": report.write, "files": [
        {"file": r.file, "ok": r.ok, "migrated": bool(r.changes) and r.ok, "version": r.version,
         "changes": r.changes, "needs": r.needs, "written": r.written, "diff": r.diff} for r in report.results]}


VIEW = View(MigrationReport, text, to_json)
