"""Every falsifier's ``test:`` names a test function that really exists.

This is the drift gate: a test renamed months ago leaves its contract citing a ghost. Unresolved
bindings are errors under ``--strict-test-binding`` and warnings otherwise; each comes with the
nearest existing name as a suggestion.
"""

from __future__ import annotations

from pv.binding import BindingKind, parse_binding, resolve
from pv.diagnostics import Diagnostic, Severity
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="test-binding",
    title="falsifiers bound to existing tests",
    fails_when="a `test:` does not resolve to a real test function (AST, nothing imported); suggests the nearest name",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    severity = Severity.ERROR if ctx.strict_test_binding else Severity.WARNING
    for rel, line, message in ctx.test_index.syntax_errors:
        out.append(Diagnostic(file=rel, line=line, message=f"cannot parse test file: {message}",
                              code=GATE.name, severity=severity))
    for rel, why in sorted(ctx.test_index.refused.items()):
        out.append(Diagnostic(file=rel, message=f"not scanned for tests: {why}", code=GATE.name, severity=severity,
                              hint="make it a regular file inside the repository, or remove it"))
    for lc, contract in ctx.valid:
        for i, ft in enumerate(contract.falsification_tests):
            binding = parse_binding(ft.test)
            if binding.kind in (BindingKind.UNBOUND, BindingKind.LIVE, BindingKind.CMD):
                continue
            res = resolve(binding, ctx.test_index)
            if res.resolved:
                continue
            hint = f"did you mean `{res.suggestion}`?" if res.suggestion else "bind it to an existing test function"
            out.append(ctx.diag(lc, ["falsification_tests", i, "test"], f"{ft.id}: {res.problem}", hint=hint,
                                code=GATE.name, severity=severity))
    return out
