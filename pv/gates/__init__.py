"""The gate registry: the lint gates in the order ``pv lint`` runs, numbers and prints them.

A gate is a module of its own with a docstring (why the gate exists), ``GATE = GateInfo(...)``
(its name, title and what makes it fail) and ``check(ctx: LintContext) -> list[Diagnostic]``.
Add one by writing the module and listing it here; then ``pv gates --write README.md`` updates
the README's gate table (a test fails while it is stale).
"""

from __future__ import annotations

from types import ModuleType

from pv.gates import (
    bindings,
    changelog,
    commands,
    dependencies,
    falsifier_ids,
    inert,
    kani,
    obligations,
    orphans,
    references,
    schema,
    status,
    summary,
    versioning,
)

GATES: list[ModuleType] = [
    schema,
    falsifier_ids,
    changelog,
    obligations,
    dependencies,
    status,
    bindings,
    orphans,
    references,
    summary,
    kani,
    commands,
    inert,
]

# Runs only under `pv lint --since REF`, where it compares each contract with its version at REF;
# without a REF there is nothing to compare, so it is not listed (nor shown as passing).
SINCE_GATE: ModuleType = versioning
