"""Falsifier ids are unique across all contracts (their form is enforced by the schema).

Two contracts claiming FALSIFY-X-001 would make every verdict in the ledger ambiguous.
"""

from __future__ import annotations

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="falsifier-ids",
    title="falsifier ids unique across contracts",
    fails_when="two contracts declare the same falsifier id",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    first: dict[str, str] = {}
    out = ctx.partial(GATE.name, "ids it declares were not compared with the others")
    for lc, contract in ctx.valid:
        for i, ft in enumerate(contract.falsification_tests):
            where = f"{lc.display} (falsification_tests[{i}])"
            if ft.id in first:
                out.append(ctx.diag(lc, ["falsification_tests", i, "id"],
                                    f"falsifier id {ft.id} is already declared in {first[ft.id]}",
                                    hint="give this falsifier the next free number", code=GATE.name))
            else:
                first[ft.id] = where
    return out
