"""``pv validate PATHS...``: schema-check contract files."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import add_format, add_root, contract_paths, workspace
from pv.render.machine import render_github, render_json, render_sarif
from pv.render.text import console, print_diagnostics


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "validate", help="schema-check contract files",
        description="Check each contract against the schema (contracts/schema/contract.schema.json). "
                    "Exit 0 when all pass, 1 when any fails, 2 on a usage error.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="contract files or folders")
    add_format(parser)
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    loaded = ws.load(contract_paths(args.paths, ws, default_all=False))
    diagnostics = [d for lc in loaded for d in lc.diagnostics]
    failed = sum(not lc.ok for lc in loaded)
    if args.format == "json":
        summary = {"command": "validate", "files": len(loaded), "failed": failed,
                   "results": [{"file": lc.display, "ok": lc.ok, "id": lc.id} for lc in loaded]}
        print(render_json(diagnostics, summary))
    elif args.format == "sarif":
        print(render_sarif(diagnostics, {"schema": "contract schema validation"}))
    elif args.format == "github":
        if diagnostics:
            print(render_github(diagnostics))
    else:
        con = console()
        print_diagnostics(con, diagnostics)
        for lc in loaded:
            if lc.ok:
                con.print(f"[green]✓[/green] {lc.display}")
        color = "red" if failed else "green"
        con.print(f"[{color}]{len(loaded) - failed}/{len(loaded)} contracts valid[/{color}]")
    return 1 if failed else 0
