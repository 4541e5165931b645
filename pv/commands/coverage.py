"""``pv coverage [--min PCT] [--ratchet FILE]``: falsifier coverage with a vacuity floor."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import (
    UsageError,
    add_contract_paths,
    add_format,
    add_ledger,
    add_root,
    finite_number,
    workspace,
)
from pv.coverage import CoverageReport, check_thresholds, measure, ratchet
from pv.ledger import LedgerError
from pv.render import formats, render
from pv.workspace import expand_paths


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "coverage", help="falsifier coverage: bound / declared and passing / bound, with a vacuity floor",
        description="Measure, per contract and overall, how many declared falsifiers are bound (a resolving "
                    "test or a LIVE command) and how many bound ones have a fresh pass in the ledger. Fails "
                    "(exit 1) when fewer falsifiers than --floor were found (a broken scan never reports 0/0 as "
                    "green), below --min / --min-passing, or below the --ratchet baseline.",
    )
    add_contract_paths(parser)
    parser.add_argument("--min", dest="min_bound", type=_pct, default=None, metavar="PCT",
                        help="minimum bound coverage in percent (bound / declared)")
    parser.add_argument("--min-passing", type=_pct, default=None, metavar="PCT",
                        help="minimum passing coverage in percent (fresh passes / bound)")
    parser.add_argument("--floor", type=int, default=None, metavar="N",
                        help="vacuity guard: fail when fewer than N falsifiers are declared or bound (default 1)")
    parser.add_argument("--ratchet", type=Path, default=None, metavar="FILE",
                        help="baseline JSON that may only improve: created when missing, raised when beaten")
    parser.add_argument("--no-update", action="store_true", help="with --ratchet: check only, never write FILE")
    add_ledger(parser)
    add_format(parser, formats(CoverageReport))
    add_root(parser)
    parser.set_defaults(func=run)


def _pct(text: str) -> float:
    value = finite_number(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 100")
    return value


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    floor = ws.settings.coverage_floor if args.floor is None else args.floor
    if floor < 1:
        raise UsageError("--floor must be at least 1: a floor of 0 would let an empty scan pass")
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    # No contracts found is not a usage error here: the vacuity guard reports it.
    paths = expand_paths(args.paths) if args.paths else ws.contract_files
    try:
        ledger = ws.ledger
    except LedgerError as exc:
        raise UsageError(str(exc)) from None
    report = measure(ws, ws.load(paths), ledger)
    check_thresholds(report, floor=floor, min_bound=args.min_bound, min_passing=args.min_passing)
    if args.ratchet is not None:
        target = args.ratchet if args.ratchet.is_absolute() else Path.cwd() / args.ratchet
        ratchet(report, target, update=not args.no_update)
    if ledger is None:
        report.notes.append("no ledger: passing coverage is 0 until `pv verify` runs")
    render(report, args.format)
    return 0 if report.ok else 1
