"""``pv status [CONTRACTS]``: one dashboard row per contract, from the contracts and the ledger."""

from __future__ import annotations

import argparse
import json

from rich.markup import escape

from pv.commands.common import (
    UsageError,
    add_contract_paths,
    add_format,
    add_ledger,
    add_root,
    contract_paths,
    workspace,
)
from pv.render.text import console, print_diagnostics, table

SHOWN_NEEDS = 4


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "status", help="dashboard: status, version, verdicts, and what the next status needs",
        description="For each contract: its claimed status and version, its falsifiers by ledger outcome "
                    "(stale verdicts counted apart), whether the claim is supported, and what promotion to the "
                    "next status still needs. Reads the ledger; runs nothing. Exit 0, or 1 when a claimed "
                    "status is not supported.",
    )
    add_contract_paths(parser)
    add_ledger(parser)
    add_format(parser, ("text", "json"))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pv.assessment import assess
    from pv.ledger import LedgerError
    from pv.requirements import next_status, requirements

    ws = workspace(args)
    loaded = ws.load(contract_paths(args.paths, ws, default_all=True))
    try:
        ledger = ws.ledger
    except LedgerError as exc:
        raise UsageError(str(exc)) from None
    state = ws.repo_state
    rows = []
    for lc in loaded:
        if lc.contract is None:
            continue
        c = lc.contract
        assessment = assess(c, ws, ledger)
        claim = requirements(assessment, c.metadata.status, ws)
        nxt = next_status(c.metadata.status)
        needs = requirements(assessment, nxt, ws) if nxt else []
        rows.append({"id": c.metadata.id, "file": lc.display, "status": c.metadata.status.value,
                     "version": c.metadata.version, "falsifiers": len(c.falsification_tests),
                     "outcomes": assessment.by_outcome(), "claim_supported": not claim, "claim_gaps": claim,
                     "next": nxt.value if nxt else None, "next_needs": needs})
    diagnostics = [d for lc in loaded for d in lc.diagnostics]
    if args.format == "json":
        print(json.dumps({"command": "status", "ledger": ledger is not None, "commit": state.commit,
                          "contracts": rows, "diagnostics": [d.model_dump(mode="json") for d in diagnostics]},
                         indent=2))
    else:
        con = console()
        print_diagnostics(con, diagnostics)
        if ledger is None:
            con.print("[yellow]no ledger yet: run `pv verify` to record verdicts[/yellow]")
        tbl = table(f"pv status ({'commit ' + state.commit[:10] if state.commit else 'not a git checkout'})",
                    [])
        tbl.add_column("contract", overflow="fold")
        for column in ("status", "version", "verdicts", "claim"):
            tbl.add_column(column)
        for r in rows:
            outcomes = ", ".join(f"{n} {k}" for k, n in sorted(r["outcomes"].items())) or "none"
            claim = "[green]supported[/green]" if r["claim_supported"] else "[red]unsupported[/red]"
            tbl.add_row(r["id"], r["status"], r["version"], f"{r['falsifiers']} declared: {outcomes}", claim)
        con.print(tbl)
        for r in rows:
            if not r["claim_supported"]:
                con.print(f"[red]{escape(r['id'])}[/red]: claimed {r['status']} is not supported:")
                con.print(escape(_short(r["claim_gaps"])))
            if r["next"] is None:
                continue
            if not r["next_needs"]:
                con.print(f"[green]{escape(r['id'])}[/green]: ready for {r['next']}: "
                          f"pv promote {escape(r['file'])} --to {r['next']}")
            else:
                con.print(f"{escape(r['id'])}: {r['next']} still needs:")
                con.print(escape(_short(r["next_needs"])))
    return 0 if all(r["claim_supported"] for r in rows) and not diagnostics else 1


def _short(items: list[str]) -> str:
    shown = "\n".join(f"  - {i}" for i in items[:SHOWN_NEEDS])
    return shown + (f"\n  - … and {len(items) - SHOWN_NEEDS} more" if len(items) > SHOWN_NEEDS else "")
