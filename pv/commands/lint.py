"""``pv lint [PATHS] [--strict-test-binding]``: run the named gates and print one row per gate."""

from __future__ import annotations

import argparse

from rich.markup import escape

from pv.commands.common import add_contract_paths, add_format, add_root, contract_paths, workspace
from pv.gates import GATES
from pv.lint import lint
from pv.render.machine import render_github, render_json, render_sarif
from pv.render.text import console, print_diagnostics, table


def register(sub: argparse._SubParsersAction) -> None:
    gate_list = "; ".join(f"{i}. {g.name}: {g.title}" for i, g in enumerate(GATES, 1))
    parser = sub.add_parser(
        "lint", help="run the lint gates over contracts",
        description=f"Run the lint gates ({gate_list}). Test bindings are resolved statically (AST): "
                    "lint never imports or runs project code, and never runs LIVE commands. "
                    "Exit 0 when every gate passes, 1 otherwise, 2 on a usage error.",
    )
    add_contract_paths(parser)
    parser.add_argument("--strict-test-binding", action="store_true",
                        help="an unresolved falsifier test binding is an error, not a warning")
    add_format(parser)
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    report = lint(ws, contract_paths(args.paths, ws, default_all=True), strict_test_binding=args.strict_test_binding)
    passed = sum(r.passed for r in report.results)
    total = len(report.results)
    if args.format == "json":
        summary = {"command": "lint", "files": report.files, "passed": report.passed,
                   "gates": [{"name": r.name, "title": r.title, "passed": r.passed, "errors": r.errors,
                              "warnings": r.warnings} for r in report.results]}
        print(render_json(report.diagnostics, summary))
    elif args.format == "sarif":
        print(render_sarif(report.diagnostics, {g.name: g.title for g in GATES}))
    elif args.format == "github":
        if report.diagnostics:
            print(render_github(report.diagnostics))
    else:
        con = console()
        print_diagnostics(con, report.diagnostics)
        tbl = table(f"pv lint: {report.files} contract file(s)", ["#", "gate", "result", "err", "warn", "checks"])
        for i, r in enumerate(report.results, 1):
            verdict = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
            tbl.add_row(str(i), r.name, verdict, str(r.errors), str(r.warnings), f"[dim]{escape(r.title)}[/dim]")
        con.print(tbl)
        color = "green" if report.passed else "red"
        con.print(f"[{color}]{passed}/{total} gates PASS[/{color}]")
    return 0 if report.passed else 1
