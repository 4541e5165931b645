"""Every Kani harness names an obligation the contract states, under an id of its own.

A harness's ``obligation`` may be a proof obligation's ``id``, its ``property`` text (the reference
pv's own contracts do this), or an equation name (the harness then proves that equation's
obligations). A harness that names nothing proves nothing, however green its run.
"""

from __future__ import annotations

import difflib

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext
from pv.models import Contract

GATE = GateInfo(
    name="kani",
    title="kani harnesses name existing obligations",
    fails_when="a `kani_harnesses` entry names no obligation id, obligation property or equation; duplicate "
    "harness ids",
)


def targets(contract: Contract) -> set[str]:
    """Every name a harness may use for what it proves."""
    out = set(contract.equations)
    for ob in contract.proof_obligations:
        out.add(ob.property)
        if ob.id is not None:
            out.add(ob.id)
    return out


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        if not contract.kani_harnesses:
            continue
        known = targets(contract)
        ids = [ob.id for ob in contract.proof_obligations if ob.id] + list(contract.equations)
        seen: dict[str, int] = {}
        for i, harness in enumerate(contract.kani_harnesses):
            if harness.id in seen:
                out.append(ctx.diag(lc, ["kani_harnesses", i, "id"],
                                    f"harness id {harness.id!r} is already used by kani_harnesses[{seen[harness.id]}]",
                                    hint="give each harness its own id", code=GATE.name))
            seen.setdefault(harness.id, i)
            if harness.obligation in known:
                continue
            close = difflib.get_close_matches(harness.obligation, sorted(known), n=1, cutoff=0.6)
            hint = (f"did you mean `{close[0]}`?" if close else
                    f"name an obligation id, an obligation's property, or an equation: {', '.join(ids) or '(none)'}")
            out.append(ctx.diag(lc, ["kani_harnesses", i, "obligation"],
                                f"{harness.id}: obligation {harness.obligation!r} names no proof obligation or "
                                "equation of this contract", hint=hint, code=GATE.name))
    return out
