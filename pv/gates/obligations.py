"""Every ``applies_to`` (of a proof obligation or a falsifier) names an equation the contract defines,
and obligation ids (optional; ``kani_harnesses`` refer to them) are unique within the contract."""

from __future__ import annotations

import difflib

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="obligations",
    title="applies_to names existing equations",
    fails_when="an `applies_to` (of an obligation or a falsifier) names no equation; two obligations share an `id`",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        names = list(contract.equations)
        seen: dict[str, int] = {}
        for i, ob in enumerate(contract.proof_obligations):
            if ob.id is None:
                continue
            if ob.id in seen:
                out.append(ctx.diag(lc, ["proof_obligations", i, "id"],
                                    f"obligation id {ob.id!r} is already used by proof_obligations[{seen[ob.id]}]",
                                    hint="give each obligation its own id", code=GATE.name))
            seen.setdefault(ob.id, i)
        owners = [("proof_obligations", i, ob.applies_to) for i, ob in enumerate(contract.proof_obligations)]
        owners += [("falsification_tests", i, ft.applies_to) for i, ft in enumerate(contract.falsification_tests)]
        for section, i, targets in owners:
            for j, target in enumerate(targets):
                if target in contract.equations:
                    continue
                close = difflib.get_close_matches(target, names, n=1)
                hint = f"did you mean `{close[0]}`?" if close else f"equations: {', '.join(names) or '(none)'}"
                out.append(ctx.diag(lc, [section, i, "applies_to", j],
                                    f"applies_to names unknown equation {target!r}", hint=hint, code=GATE.name))
    return out
