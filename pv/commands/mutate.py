"""``pv mutate [CONTRACTS] [-k ID] [--changed] [--workers N] [--timeout-factor F]``: can each bound test fail?"""

from __future__ import annotations

import argparse
import sys

from pv.commands.common import (
    UsageError,
    add_contract_paths,
    add_format,
    add_ledger,
    add_root,
    contract_paths,
    workspace,
)
from pv.mutate.report import FalsifierMutation, MutateReport, Progress
from pv.plan import Planned
from pv.progress import StepLines
from pv.render import formats, render
from pv.render.mutate import score_text
from pv.render.text import console, print_diagnostics
from pv.verify import VerifyError, VerifyInputError

DEFAULT_MAX_MUTANTS = 60


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "mutate", help="mutation analysis: show each falsifier's bound test fails when the code it guards breaks",
        description="For each selected falsifier bound to a pytest test: run the test clean under coverage, make "
                    "mutmut's mutants of its subject (the falsifier's `subject:`, else the repository source lines "
                    "the test executed outside the test folders and benchmarks/), and run the test alone against "
                    "each mutant in a forked child that imports the mutant through an overlay (the working tree "
                    "is never written, even if pv is killed). Verdict per falsifier: STRONG (at least one mutant "
                    "killed; score = detected / competent mutants), INERT (none killed), NO-SUBJECT (nothing to "
                    "mutate). Surviving mutants are listed as file:line: original -> mutant; mark a true "
                    "equivalent with `# pragma: no mutate` on its line. Verdicts are recorded in the ledger "
                    "beside the test verdicts. Exit 1 when a ship-blocking falsifier is INERT or cannot be "
                    "judged, 2 on a usage error.",
    )
    add_contract_paths(parser)
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="FALSIFIER_ID",
                        help="only this falsifier id (or shell glob); repeatable")
    parser.add_argument("--changed", action="store_true",
                        help="re-run only falsifiers whose mutation verdict is stale or missing")
    parser.add_argument("-n", "--workers", type=int, default=2, metavar="N",
                        help="worker processes running mutants in parallel (default 2)")
    parser.add_argument("--timeout-factor", type=float, default=3.0, metavar="F",
                        help="a mutant run times out after F x the clean run's time (+2 s); default 3")
    parser.add_argument("--max-mutants", type=int, default=DEFAULT_MAX_MUTANTS, metavar="N",
                        help="run at most N mutants per falsifier, an even sample that is the same on every run "
                             f"(default {DEFAULT_MAX_MUTANTS}; 0: all). A test that runs much of the project "
                             "(a linter over every contract) has thousands")
    add_ledger(parser)
    parser.add_argument("--no-ledger", action="store_true", help="do not write the ledger")
    parser.add_argument("--no-progress", action="store_true", help="print no progress on stderr")
    add_format(parser, formats(MutateReport))
    add_root(parser)
    parser.set_defaults(func=run)


class LineProgress(StepLines, Progress):
    """``pv mutate: [ 3/10] STRONG     FALSIFY-ARCH-009  14/20 killed  score 70.0%  (elapsed 41.0s)``."""

    command = "pv mutate"

    def start(self, to_run: int, kept: int) -> None:
        self.total = to_run
        kept_text = f", {kept} fresh verdict(s) kept" if kept else ""
        self.line(f"{to_run} falsifier(s) to mutate{kept_text}")

    def done(self, result: FalsifierMutation) -> None:
        e = result.entry
        self.step(f"{e.verdict.value:<10} {e.falsifier_id}  {e.killed}/{e.competent} killed  score {score_text(e)}")

    def mutants(self, planned: Planned, count: int) -> None:
        self.line(f"{planned.falsifier.id}: {count} mutant(s) to run")


def run(args: argparse.Namespace) -> int:
    from pv.mutate.session import mutate  # libcst and mutmut load only when mutating

    ws = workspace(args)
    if args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    if args.timeout_factor <= 0:
        raise UsageError("--timeout-factor must be positive")
    if args.max_mutants < 0:
        raise UsageError("--max-mutants must be 0 (all) or more")
    try:
        report = mutate(ws, contract_paths(args.paths, ws, default_all=True), patterns=args.patterns,
                        changed=args.changed, workers=args.workers, timeout_factor=args.timeout_factor,
                        max_mutants=args.max_mutants,
                        write=not args.no_ledger, progress=Progress() if args.no_progress else LineProgress(sys.stderr))
    except VerifyInputError as exc:
        print_diagnostics(console(stderr=True), exc.diagnostics)
        raise UsageError(str(exc)) from None
    except VerifyError as exc:
        raise UsageError(str(exc)) from None
    render(report, args.format)
    return 0 if report.ok else 1
