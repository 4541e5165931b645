"""``pv validate PATHS...``: schema-check contract files."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import add_format, add_root, contract_paths, workspace
from pv.render import formats, render
from pv.validate import ValidationReport, validate


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "validate", help="schema-check contract files",
        description="Check each contract against the schema (contracts/schema/contract.schema.json). "
                    "Exit 0 when all pass, 1 when any fails, 2 on a usage error.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="contract files or folders")
    add_format(parser, formats(ValidationReport))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    report = validate(ws, contract_paths(args.paths, ws, default_all=False))
    render(report, args.format)
    return 0 if report.ok else 1
