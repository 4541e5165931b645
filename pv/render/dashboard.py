"""How ``pv status`` looks: one row per contract, then what each claim lacks and what the next status needs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.dashboard import Dashboard
from pv.render.text import print_diagnostics, table
from pv.render.view import View

SHOWN_NEEDS = 4


def text(con: Console, board: Dashboard) -> None:
    print_diagnostics(con, board.diagnostics)
    if not board.ledger_found:
        con.print("[yellow]no ledger yet: run `pv verify` to record verdicts[/yellow]")
    tbl = table(f"pv status ({'commit ' + board.commit[:10] if board.commit else 'not a git checkout'})", [])
    tbl.add_column("contract", overflow="fold")
    for column in ("status", "version", "verdicts", "claim"):
        tbl.add_column(column)
    for r in board.rows:
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(r.outcomes.items())) or "none"
        claim = "[green]supported[/green]" if r.claim_supported else "[red]unsupported[/red]"
        tbl.add_row(r.id, r.status, r.version, f"{r.falsifiers} declared: {outcomes}", claim)
    con.print(tbl)
    for r in board.rows:
        shown = [v for v in r.verdicts if board.verbose or v.freshness != "fresh"]
        if shown:
            con.print(f"{escape(r.id)}: verdicts" + ("" if board.verbose else " (stale or missing)"))
        for v in shown:
            colour = {"fresh": "green", "stale": "yellow", "missing": "red"}[v.freshness]
            outcome = f" {v.outcome}" if v.outcome else ""
            why = f": {v.why}" if v.why else ""
            con.print(f"  {escape(v.id)}{escape(outcome)} [{colour}]{v.freshness}[/{colour}]{escape(why)}")
    for r in board.rows:
        if not r.claim_supported:
            con.print(f"[red]{escape(r.id)}[/red]: claimed {r.status} is not supported:")
            con.print(escape(_bullets(r.claim_gaps)))
        if r.next is None:
            continue
        if not r.next_needs:
            con.print(f"[green]{escape(r.id)}[/green]: ready for {r.next}: pv promote {escape(r.file)} --to {r.next}")
        else:
            con.print(f"{escape(r.id)}: {r.next} still needs:")
            con.print(escape(_bullets(r.next_needs)))


def _bullets(items: list[str]) -> str:
    shown = "\n".join(f"  - {i}" for i in items[:SHOWN_NEEDS])
    return shown + (f"\n  - … and {len(items) - SHOWN_NEEDS} more" if len(items) > SHOWN_NEEDS else "")


def to_json(board: Dashboard) -> dict[str, Any]:
    return {"command": "status", "ledger": board.ledger_found, "commit": board.commit,
            "contracts": [asdict(r) for r in board.rows],
            "diagnostics": [d.model_dump(mode="json") for d in board.diagnostics]}


VIEW = View(Dashboard, text, to_json)
