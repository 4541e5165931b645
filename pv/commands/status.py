"""``pv status [CONTRACTS]``: one dashboard row per contract, from the contracts and the ledger."""

from __future__ import annotations

import argparse

from pv.commands.common import (
    UsageError,
    add_contract_paths,
    add_format,
    add_ledger,
    add_root,
    contract_paths,
    workspace,
)
from pv.dashboard import Dashboard, dashboard
from pv.ledger import LedgerError
from pv.render import formats, render


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "status", help="dashboard: status, version, verdicts, and what the next status needs",
        description="For each contract: its claimed status and version, its falsifiers by ledger outcome "
                    "(stale verdicts counted apart), whether the claim is supported, and what promotion to the "
                    "next status still needs; then each falsifier whose verdict is stale (naming the changed "
                    "file) or missing (all of them with -v). Reads the ledger; runs nothing. Exit 0, or 1 when "
                    "a claimed status is not supported.",
    )
    add_contract_paths(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every falsifier, fresh ones too")
    add_ledger(parser)
    add_format(parser, formats(Dashboard))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    try:
        board = dashboard(ws, contract_paths(args.paths, ws, default_all=True), verbose=args.verbose)
    except LedgerError as exc:
        raise UsageError(str(exc)) from None
    render(board, args.format)
    return 0 if board.ok else 1
