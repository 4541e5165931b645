"""A ``verification_summary`` that states counts states the true ones.

Hand-written summaries rot first; a stale "10/10 bound" is worse than none.
"""

from __future__ import annotations

from pv.binding import BindingKind, parse_binding
from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="summary",
    title="verification_summary counts are true",
    fails_when="`verification_summary` counts disagree with the contract",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        summary = contract.verification_summary
        if summary is None:
            continue
        total = len(contract.falsification_tests)
        bound = sum(parse_binding(ft.test).kind is not BindingKind.UNBOUND for ft in contract.falsification_tests)
        for key, claimed, actual in (("falsifiers_total", summary.falsifiers_total, total),
                                     ("falsifiers_bound", summary.falsifiers_bound, bound)):
            if claimed is not None and claimed != actual:
                message = f"{key} says {claimed}, the contract has {actual}"
                out.append(ctx.diag(lc, ["verification_summary", key], message, hint=f"set {key}: {actual}",
                                    code=GATE.name))
    return out
