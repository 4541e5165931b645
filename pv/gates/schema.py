"""Every file loads and validates against the contract schema."""

from __future__ import annotations

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="schema",
    title="schema valid",
    fails_when="a file does not load or validate",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    return [d for lc in ctx.loaded for d in lc.diagnostics]
