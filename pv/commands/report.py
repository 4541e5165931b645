"""``pv report [CONTRACTS] [--output DIR] [--format html|md]``: write a static site of where the contracts stand."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from pv.commands.common import UsageError, add_contract_paths, add_ledger, add_root, contract_paths, workspace
from pv.graph import build_graph
from pv.render.text import console

DEFAULT_OUTPUT = Path(".pv") / "report"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report", help="write an HTML (or Markdown) report: contracts, verdicts, traceability, evidence plots",
        description="Write a self-contained static site from the contracts, the verdict ledger and the evidence "
                    "folders: an overview (every contract's status, falsifiers by verdict, ship-blocking failures "
                    "first, what the next status needs), a page per contract (obligations -> falsifiers -> bound "
                    "test source -> latest verdict, equations, changelog, dependency graph), a traceability "
                    "matrix, and the evidence runs with their loss and throughput curves. No network, no "
                    "scripts: open index.html from disk. Runs nothing; run `pv verify` first for fresh verdicts. "
                    "Exit 0 when written (whatever the verdicts), 2 on a usage error.",
    )
    add_contract_paths(parser)
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                        help=f"output folder (default: {DEFAULT_OUTPUT} under the root); replaced on each run, "
                             "and refused if it holds files pv report did not write")
    parser.add_argument("--format", choices=("html", "md"), default="html",
                        help="html (default) for browsers; md for Markdown viewers and wikis")
    add_ledger(parser)
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: pv.site loads jinja2 and pygments, which no other command needs at start-up.
    from pv.site import OutputError, build_project, write_site

    ws = workspace(args)
    loaded = ws.load(contract_paths(args.paths, ws, default_all=True))
    project = build_project(ws, loaded)
    out = args.output if args.output is not None else ws.root / DEFAULT_OUTPUT
    try:
        site = write_site(project, build_graph(loaded), out, args.format)
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    con = console()
    for d in project.diagnostics:
        con.print(f"[yellow]left out of the report[/yellow]: {escape(d.one_line())}")
    index_page = (site.folder / site.pages[0]).resolve()
    blocking = len(project.blocking_failures)
    con.print(f"wrote {len(site.pages)} page(s) and {site.plots} plot(s) for {len(project.contracts)} contract(s) "
              f"to {site.folder}; {blocking} ship-blocking failure(s)")
    con.print(f"open {index_page.as_uri()}", markup=False, highlight=False)
    return 0
