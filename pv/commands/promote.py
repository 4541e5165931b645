"""``pv promote CONTRACT --to STATUS``: raise (or lower) a contract's status when the rules hold."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import UsageError, add_date, add_format, add_ledger, add_root, workspace
from pv.enums import Status
from pv.ledger import LedgerError
from pv.promote import PromotionResult, promote
from pv.render import formats, render
from pv.requirements import STATUS_RULES


def register(sub: argparse._SubParsersAction) -> None:
    rules = "; ".join(f"{s.value}: {text}" for s, text in STATUS_RULES.items())
    parser = sub.add_parser(
        "promote", help="change a contract's status when the ledger and evidence support it",
        description="Check the promotion rules against the ledger (written by `pv verify`) and the evidence "
                    "folders; when they hold, set metadata.status, bump the minor version, set updated and "
                    "append a changelog entry, editing the YAML without losing comments or key order. "
                    f"Rules: {rules} Exit 0 when promoted, 1 when refused, 2 on a usage error, a contract "
                    "that does not validate or an unreadable ledger (bad input, not a refusal).",
    )
    parser.add_argument("contract", type=Path, metavar="CONTRACT", help="the contract file")
    parser.add_argument("--to", required=True, type=_status, metavar="STATUS",
                        help=f"target status: {', '.join(s.value for s in Status)}")
    parser.add_argument("--dry-run", action="store_true", help="check and show the edit, write nothing")
    add_date(parser)
    add_ledger(parser)
    add_format(parser, formats(PromotionResult))
    add_root(parser)
    parser.set_defaults(func=run)


def _status(text: str) -> Status:
    try:
        return Status(text.upper())
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown status {text!r}; use one of "
                                         f"{', '.join(s.value for s in Status)}") from None


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if not args.contract.is_file():
        raise UsageError(f"no such contract file: {args.contract}")
    try:
        result = promote(ws, args.contract, args.to, date=args.date, dry_run=args.dry_run)
    except LedgerError as exc:  # an unreadable ledger is bad input (exit 2), as in every other command
        raise UsageError(str(exc)) from None
    render(result, args.format)
    if result.ok:
        return 0
    return 2 if result.current is None else 1  # current is None: the contract did not even validate
