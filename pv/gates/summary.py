"""A ``verification_summary`` that states counts states the true ones.

Hand-written summaries rot first; a stale "10/10 bound" is worse than none. The reference pv's
counts are held to the same standard: ``total_obligations`` is the number of obligations,
``proven`` cannot exceed what ``kani_harnesses`` cover, ``tested`` cannot exceed the total and
needs a bound falsifier.
"""

from __future__ import annotations

from pv.binding import BindingKind, parse_binding
from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="summary",
    title="verification_summary counts are true",
    fails_when="`verification_summary` counts disagree with the contract (ours, and the reference "
    "`total_obligations` / `proven` / `tested`)",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        summary = contract.verification_summary
        if summary is None:
            continue
        wrong: list[tuple[str, str, str]] = []  # key, message, hint
        total = len(contract.falsification_tests)
        bound = sum(parse_binding(ft.test).kind is not BindingKind.UNBOUND for ft in contract.falsification_tests)
        obligations = len(contract.proof_obligations)
        for key, claimed, actual in (("falsifiers_total", summary.falsifiers_total, total),
                                     ("falsifiers_bound", summary.falsifiers_bound, bound),
                                     ("total_obligations", summary.total_obligations, obligations)):
            if claimed is not None and claimed != actual:
                wrong.append((key, f"{key} says {claimed}, the contract has {actual}", f"set {key}: {actual}"))
        for key, claimed in (("proven", summary.proven), ("tested", summary.tested)):
            if claimed is not None and claimed > obligations:
                wrong.append((key, f"{key} says {claimed}, but the contract states only {obligations} proof "
                              "obligation(s)", f"set {key} to at most {obligations}"))
        covered = len({h.obligation for h in contract.kani_harnesses})
        if summary.proven is not None and covered < summary.proven <= obligations:
            wrong.append(("proven", f"proven says {summary.proven}, but kani_harnesses name only {covered} "
                          "obligation(s): a proof needs a harness", f"add the harnesses or set proven: {covered}"))
        if summary.tested and not bound:
            wrong.append(("tested", f"tested says {summary.tested}, but no falsifier is bound to a test or command",
                          "bind the falsifiers (`test:`) or set tested: 0"))
        out += [ctx.diag(lc, ["verification_summary", key], message, hint=hint, code=GATE.name)
                for key, message, hint in wrong]
    return out
