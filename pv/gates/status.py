"""Gate 6: a contract's claimed status is backed by what the repo shows (see pv.status_rules)."""

from __future__ import annotations

from pv.context import LintContext
from pv.diagnostics import Diagnostic
from pv.status_rules import static_requirements


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        status = contract.metadata.status
        for need in static_requirements(contract, status, ctx.root):
            out.append(ctx.diag(lc, ["metadata", "status"], f"status {status.value} requires more: {need}",
                                hint="bind the falsifiers / record evidence, or lower the status", code="status"))
    return out
