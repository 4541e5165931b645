"""The lint gates, in the order ``pv lint`` runs and prints them.

A gate is a plain function ``check(ctx: LintContext) -> list[Diagnostic]`` in a module of its
own; add one by writing the module and appending a ``Gate`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pv.diagnostics import Diagnostic
from pv.gates import (
    bindings,
    changelog,
    dependencies,
    falsifier_ids,
    obligations,
    orphans,
    references,
    schema,
    status,
    summary,
)
from pv.lint_context import LintContext


@dataclass(frozen=True)
class Gate:
    name: str
    title: str
    check: Callable[[LintContext], list[Diagnostic]]


GATES: list[Gate] = [
    Gate("schema", "schema valid", schema.check),
    Gate("falsifier-ids", "falsifier ids unique across contracts", falsifier_ids.check),
    Gate("changelog", "changelog matches version, semver and dates ordered", changelog.check),
    Gate("obligations", "proof obligations apply to existing equations", obligations.check),
    Gate("dependencies", "depends_on resolves, no cycles", dependencies.check),
    Gate("status", "status consistent with bindings and evidence", status.check),
    Gate("test-binding", "falsifiers bound to existing tests", bindings.check),
    Gate("orphans", "no test claims an undeclared falsifier", orphans.check),
    Gate("references", "referenced repo files exist", references.check),
    Gate("summary", "verification_summary counts are true", summary.check),
]
