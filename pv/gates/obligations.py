"""Each proof obligation's ``applies_to`` names an equation the contract defines."""

from __future__ import annotations

import difflib

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="obligations",
    title="proof obligations apply to existing equations",
    fails_when="`applies_to` names no equation",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        names = list(contract.equations)
        for i, ob in enumerate(contract.proof_obligations):
            for j, target in enumerate(ob.applies_to):
                if target in contract.equations:
                    continue
                close = difflib.get_close_matches(target, names, n=1)
                hint = f"did you mean `{close[0]}`?" if close else f"equations: {', '.join(names) or '(none)'}"
                out.append(ctx.diag(lc, ["proof_obligations", i, "applies_to", j],
                                    f"applies_to names unknown equation {target!r}", hint=hint, code=GATE.name))
    return out
