"""``pv verify [CONTRACTS] [-k ID] [--live]``: run the bound falsifiers and record verdicts in the ledger."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import (
    UsageError,
    add_contract_paths,
    add_format,
    add_ledger,
    add_root,
    contract_paths,
    workspace,
)
from pv.render import formats, render
from pv.render.verify import to_junit
from pv.verify import VerifyError, VerifyReport, verify


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "verify", help="run the falsifiers' bound tests and record verdicts in the ledger",
        description="Run every selected falsifier's bound pytest test in one pytest subprocess, map the outcomes "
                    "back to falsifier ids (pass, fail, error, skipped, not-bound, live-not-run, cmd-not-run) and "
                    "record them in the verdict ledger (.pv/ledger.json). CMD: commands (any language) run next, "
                    "from the repository root, each in its own process group; the exit code is the verdict. "
                    "LIVE: commands run only with --live and leave an evidence folder under "
                    "evidence/<contract-id>/. Exit 0 when no ship-blocking falsifier fails or errors, 1 "
                    "otherwise, 2 on a usage error.",
    )
    add_contract_paths(parser)
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="FALSIFIER_ID",
                        help="only this falsifier id (or shell glob, e.g. 'FALSIFY-ARCH-00*'); repeatable")
    parser.add_argument("--live", action="store_true",
                        help="also run LIVE: commands from the contracts (shell commands: only for contracts "
                             "you trust)")
    parser.add_argument("--no-cmd", action="store_true",
                        help="do not run CMD: commands (their verdicts in the ledger are kept)")
    parser.add_argument("--junit", type=Path, default=None, metavar="FILE",
                        help="also write a JUnit XML report (one testcase per falsifier)")
    add_ledger(parser)
    parser.add_argument("--no-ledger", action="store_true", help="do not write the ledger")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="limit for the pytest run and for each CMD and LIVE command (a CMD binding's own "
                             "timeout_s, default 600 s, applies when lower); on expiry the whole process group "
                             "is killed")
    parser.add_argument("--show-output", action="store_true",
                        help="print the output of pytest and of CMD and LIVE commands")
    add_format(parser, formats(VerifyReport))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    try:
        report = verify(ws, contract_paths(args.paths, ws, default_all=True), patterns=args.patterns,
                        live=args.live, write=not args.no_ledger, timeout_s=args.timeout,
                        cmd=not args.no_cmd)
    except VerifyError as exc:
        raise UsageError(str(exc)) from None
    if args.junit is not None:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(to_junit(report), encoding="utf-8")
    render(report, args.format, show_output=args.show_output)
    return 0 if report.ok else 1
