"""A falsifier is only worth its test: a bound test that cannot fail must not carry a contract.

``pv mutate`` records, per falsifier, whether its bound test killed any mutant of the code it
guards. A ship-blocking falsifier whose verdict is INERT (mutants ran, none was killed: the test
passes whatever that code does) is an error; an advisory one is a warning. Once a ledger exists,
a bound test with no mutation verdict yet, or a stale one, is a warning: run ``pv mutate
--changed``. Lint never runs tests, so it judges the recorded verdict, not the code in front of it.
"""

from __future__ import annotations

from pv.assessment import TEST_KINDS
from pv.binding import parse_binding
from pv.diagnostics import Diagnostic, Severity
from pv.freshness import why_stale
from pv.ledger import LedgerError, MutationVerdict
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="inert",
    title="bound tests shown able to fail (mutation)",
    fails_when="a ship-blocking falsifier's test killed no mutant of the code it guards (`pv mutate`: INERT)",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    try:
        ledger = ctx.ws.ledger
    except LedgerError:
        return []  # the status gate reports an unreadable ledger
    if ledger is None:
        return []  # nothing recorded yet: `pv verify` / `pv mutate` have not run here
    mutations = ledger.mutations or {}
    out = []
    for lc, contract in ctx.valid:
        for i, ft in enumerate(contract.falsification_tests):
            if parse_binding(ft.test).kind not in TEST_KINDS:
                continue
            key: list[str | int] = ["falsification_tests", i, "test"]
            entry = mutations.get(ft.id)
            if entry is None or entry.contract_id != contract.metadata.id:
                out.append(ctx.diag(lc, key, f"{ft.id} has no mutation verdict: nothing shows its test can fail",
                                    hint=f"run `pv mutate -k {ft.id}`", code=GATE.name, severity=Severity.WARNING))
            elif entry.verdict is MutationVerdict.INERT:
                out.append(ctx.diag(lc, key, f"{ft.id} is INERT: {entry.reason}",
                                    hint="assert what the rule predicts, so that breaking the code fails the test; "
                                         "`pv mutate -k " + ft.id + "` lists the surviving mutants",
                                    code=GATE.name, severity=Severity.ERROR if ft.ship_blocking else Severity.WARNING))
            elif (stale := why_stale(entry, ft, ctx.ws.digests)) is not None:
                out.append(ctx.diag(lc, key, f"{ft.id}'s mutation verdict ({entry.verdict.value}) is stale: {stale}",
                                    hint="run `pv mutate --changed`", code=GATE.name, severity=Severity.WARNING))
    return out
