"""``pv verify [CONTRACTS] [-k ID] [--changed] [-n N] [--live]``: run the bound falsifiers, record verdicts."""

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
    finite_number,
    workspace,
)
from pv.ledger import LedgerError
from pv.progress import progress_for
from pv.render import formats, render
from pv.render.text import console, print_diagnostics
from pv.render.verify import to_junit
from pv.verify import Progress, VerifyError, VerifyInputError, VerifyReport, verify

MAX_TIMEOUT_S = 1e6  # about 11.5 days; far larger values overflow the OS timers


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "verify", help="run the falsifiers' bound tests and record verdicts in the ledger",
        description="Run every selected falsifier's bound pytest test in one pytest subprocess, map the outcomes "
                    "back to falsifier ids (pass, fail, error, skipped, not-bound, live-not-run, cmd-not-run) and "
                    "record them, with the digests of the files each depended on, in the verdict ledger "
                    "(.pv/ledger.json, committed). --changed re-runs only falsifiers whose verdict is stale or "
                    "missing. CMD: commands (any language) run next, from the repository root, each in its own "
                    "process group; the exit code is the verdict. LIVE: commands run only with --live and leave "
                    "an evidence folder under evidence/<contract-id>/. Progress goes to stderr, one line per "
                    "falsifier (a live table on a terminal). Exit 0 when no ship-blocking falsifier fails or "
                    "errors, 1 otherwise, 2 on a usage error or a contract that does not load (nothing runs then).",
    )
    add_contract_paths(parser)
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="FALSIFIER_ID",
                        help="only this falsifier id (or shell glob, e.g. 'FALSIFY-ARCH-00*'); repeatable")
    parser.add_argument("--live", action="store_true",
                        help="also run LIVE: commands from the contracts (shell commands: only for contracts "
                             "you trust)")
    parser.add_argument("--changed", action="store_true",
                        help="re-run only falsifiers without a fresh verdict (stale, missing, or error); keep the "
                             "rest from the ledger")
    parser.add_argument("-n", "--workers", type=int, default=0, metavar="N",
                        help="spread the bound tests over N processes (pytest-xdist); default: one process")
    parser.add_argument("--no-progress", action="store_true", help="print no progress on stderr")
    parser.add_argument("--no-cmd", action="store_true",
                        help="do not run CMD: commands (their verdicts in the ledger are kept)")
    parser.add_argument("--junit", type=Path, default=None, metavar="FILE",
                        help="also write a JUnit XML report (one testcase per falsifier)")
    add_ledger(parser)
    parser.add_argument("--no-ledger", action="store_true", help="do not write the ledger")
    parser.add_argument("--timeout", type=finite_number, default=None, metavar="SECONDS",
                        help="limit for the pytest run and for each CMD and LIVE command (a CMD binding's own "
                             "timeout_s, default 600 s, applies when lower; a LIVE command's includes hashing its "
                             "artifacts); on expiry the whole process group is killed")
    parser.add_argument("--show-output", action="store_true",
                        help="print the output of pytest and of CMD and LIVE commands")
    add_format(parser, formats(VerifyReport))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if args.timeout is not None and not 0 < args.timeout <= MAX_TIMEOUT_S:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds")
    if args.workers < 0:
        raise UsageError("-n must be 0 or more")
    try:
        report = verify(ws, contract_paths(args.paths, ws, default_all=True), patterns=args.patterns,
                        live=args.live, write=not args.no_ledger, timeout_s=args.timeout, changed=args.changed,
                        workers=args.workers, progress=Progress() if args.no_progress else progress_for(),
                        cmd=not args.no_cmd)
    except VerifyInputError as exc:
        print_diagnostics(console(stderr=True), exc.diagnostics)
        raise UsageError(str(exc)) from None
    except (VerifyError, LedgerError) as exc:  # LedgerError: the ledger became unwritable during the run
        raise UsageError(str(exc)) from None
    if args.junit is not None:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(to_junit(report), encoding="utf-8")
    render(report, args.format, show_output=args.show_output)
    return 0 if report.ok else 1
