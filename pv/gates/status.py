"""A contract's claimed status is backed by what the repo shows (rules: pv.requirements).

Static requirements (bindings, evidence folders) are errors. When a verdict ledger exists
(``pv verify`` wrote one), a claimed status that the ledger does not support (failing, skipped,
missing or stale verdicts; LIVE evidence that no longer matches) is a warning: lint stays a
static check that never runs tests, but it tells you the claim has outrun the evidence.
"""

from __future__ import annotations

from pv.assessment import assess
from pv.diagnostics import Diagnostic, Severity
from pv.ledger import LedgerError
from pv.lint_context import GateInfo, LintContext
from pv.requirements import ledger_requirements, static_requirements

GATE = GateInfo(
    name="status",
    title="status consistent with bindings and evidence",
    fails_when="the claimed status lacks what it requires (see `pv/requirements.py`)",
)
LEDGER_CODE = "status-ledger"  # the ledger half: warnings, since lint never runs tests


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    try:
        ledger = ctx.ws.ledger
        ledger_problem = None
    except LedgerError as exc:
        ledger, ledger_problem = None, str(exc)
    for lc, contract in ctx.valid:
        status = contract.metadata.status
        for need in static_requirements(contract, status, ctx.ws):
            out.append(ctx.diag(lc, ["metadata", "status"], f"status {status.value} requires more: {need}",
                                hint="bind the falsifiers / record evidence, or lower the status", code=GATE.name))
        if ledger is None:
            continue  # no ledger yet (or an unreadable one, reported below): nothing dynamic to compare against
        needs = ledger_requirements(assess(contract, ctx.ws, ledger), status, ctx.ws)
        if needs:
            shown = "; ".join(needs[:5]) + (f"; and {len(needs) - 5} more" if len(needs) > 5 else "")
            out.append(ctx.diag(lc, ["metadata", "status"],
                                f"claimed status {status.value} exceeds what the ledger supports: {shown}",
                                hint="run `pv verify`, fix the failures, or lower the status (`pv status` "
                                     "shows what is missing)", code=LEDGER_CODE, severity=Severity.WARNING))
    if ledger_problem is not None and ctx.valid:
        lc = ctx.valid[0][0]
        out.append(ctx.diag(lc, [], f"ledger not used: {ledger_problem}", code=LEDGER_CODE,
                            severity=Severity.WARNING))
    return out
