"""``pv promote CONTRACT --to STATUS``: raise (or lower) a contract's status when the rules hold."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from rich.markup import escape

from pv.commands.common import UsageError, add_format, add_ledger, add_root, workspace
from pv.enums import Status
from pv.render.text import console
from pv.requirements import STATUS_RULES


def register(sub: argparse._SubParsersAction) -> None:
    rules = "; ".join(f"{s.value}: {text}" for s, text in STATUS_RULES.items())
    parser = sub.add_parser(
        "promote", help="change a contract's status when the ledger and evidence support it",
        description="Check the promotion rules against the ledger (written by `pv verify`) and the evidence "
                    "folders; when they hold, set metadata.status, bump the minor version, set updated and "
                    "append a changelog entry, editing the YAML without losing comments or key order. "
                    f"Rules: {rules} Exit 0 when promoted, 1 when refused, 2 on a usage error.",
    )
    parser.add_argument("contract", type=Path, metavar="CONTRACT", help="the contract file")
    parser.add_argument("--to", required=True, type=_status, metavar="STATUS",
                        help=f"target status: {', '.join(s.value for s in Status)}")
    parser.add_argument("--dry-run", action="store_true", help="check and show the edit, write nothing")
    parser.add_argument("--date", type=_date, default=None, metavar="YYYY-MM-DD",
                        help="date for `updated` and the changelog entry (default: today)")
    add_ledger(parser)
    add_format(parser, ("text", "json"))
    add_root(parser)
    parser.set_defaults(func=run)


def _status(text: str) -> Status:
    try:
        return Status(text.upper())
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown status {text!r}; use one of "
                                         f"{', '.join(s.value for s in Status)}") from None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def run(args: argparse.Namespace) -> int:
    from pv.promote import promote

    ws = workspace(args)
    if not args.contract.is_file():
        raise UsageError(f"no such contract file: {args.contract}")
    result = promote(ws, args.contract, args.to, date=args.date, dry_run=args.dry_run)
    if args.format == "json":
        print(json.dumps({"command": "promote", "file": result.contract_file, "ok": result.ok,
                          "from": result.current.value if result.current else None, "to": result.target.value,
                          "version": result.version, "change": result.change, "written": result.written,
                          "missing": result.missing, "diff": result.diff}, indent=2))
        return 0 if result.ok else 1
    con = console()
    frm = result.current.value if result.current else "?"
    if not result.ok:
        con.print(f"[red]refused[/red]: {escape(result.contract_file)} stays {frm}; "
                  f"{result.target.value} still needs:")
        for need in result.missing:
            con.print(f"  [red]✗[/red] {escape(need)}")
        con.print(f"[dim]rule: {escape(STATUS_RULES[result.target])}[/dim]")
        return 1
    if result.diff:
        con.print(escape(result.diff), highlight=False)
    verb = "would promote" if args.dry_run else "promoted"
    con.print(f"[green]{verb}[/green] {escape(result.contract_file)}: {frm} -> {result.target.value}, "
              f"version {result.version}")
    return 0
