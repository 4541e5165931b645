"""Gate 1: every file loads and validates against the contract schema."""

from __future__ import annotations

from pv.diagnostics import Diagnostic
from pv.lint_context import LintContext


def check(ctx: LintContext) -> list[Diagnostic]:
    return [d for lc in ctx.loaded for d in lc.diagnostics]
