"""``depends_on`` names contracts that exist, and the dependency graph has no cycle."""

from __future__ import annotations

import difflib

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext

GATE = GateInfo(
    name="dependencies",
    title="depends_on resolves, no cycles",
    fails_when="`depends_on` names no contract, or the graph has a cycle",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    graph = {lc.id: list(lc.contract.metadata.depends_on) for lc in ctx.repo_contracts if lc.contract is not None}
    known = sorted({lc.id for lc in ctx.repo_contracts})
    out = ctx.partial(GATE.name, "its depends_on is not part of the cycle check")
    for lc, contract in ctx.valid:
        for j, dep in enumerate(contract.metadata.depends_on):
            if dep not in known:
                close = difflib.get_close_matches(dep, known, n=1)
                hint = f"did you mean `{close[0]}`?" if close else "use a metadata.id from contracts/"
                out.append(ctx.diag(lc, ["metadata", "depends_on", j], f"depends_on names unknown contract {dep!r}",
                                    hint=hint, code=GATE.name))
        cycle = _cycle_from(lc.id, graph)
        if cycle:
            out.append(ctx.diag(lc, ["metadata", "depends_on"], "dependency cycle: " + " -> ".join(cycle),
                                hint="one of these contracts must stop depending on the next", code=GATE.name))
    return out


def _cycle_from(start: str, graph: dict[str, list[str]]) -> list[str] | None:
    """The first cycle through ``start`` found by depth-first search, as a closed path."""
    stack: list[tuple[str, int]] = [(start, 0)]
    path = [start]
    on_path = {start}
    done: set[str] = set()  # fully explored without reaching start: never worth revisiting
    while stack:
        node, i = stack[-1]
        children = graph.get(node, [])
        if i >= len(children):
            stack.pop()
            done.add(node)
            on_path.discard(path.pop())
            continue
        stack[-1] = (node, i + 1)
        child = children[i]
        if child == start:
            return [*path, start]
        if child not in on_path and child not in done and child in graph:
            stack.append((child, 0))
            path.append(child)
            on_path.add(child)
    return None
