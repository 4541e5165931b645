"""No test claims (``@pytest.mark.falsifies``) a falsifier id that no contract declares.

An orphan marker is the mirror image of a dangling binding: the contract lost a falsifier (or the
test mistyped its id) and the test now guards nothing anybody reads.
"""

from __future__ import annotations

import difflib

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext, declared_ids

GATE = GateInfo(
    name="orphans",
    title="no test claims an undeclared falsifier",
    fails_when="a test claims a falsifier id that no contract declares",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    """A contract that did not load cannot say which ids it declares: its ids are read from the raw YAML
    when it parses, and when it does not, no marker is called an orphan on its account."""
    found = [declared_ids(lc) for lc in ctx.repo_contracts]
    declared = {fid for ids in found if ids for fid in ids}
    unknowable = any(ids is None for ids in found)
    out = ctx.partial(GATE.name, "the falsifier ids it declares were read from its raw YAML" if not unknowable
                      else "the falsifier ids it declares are unknown and no test marker was called an orphan")
    for marker in ctx.test_index.markers:
        if marker.falsifier_id in declared or unknowable:
            continue
        close = difflib.get_close_matches(marker.falsifier_id, sorted(declared), n=1)
        out.append(Diagnostic(
            file=marker.file, line=marker.line, key_path=marker.target, code=GATE.name,
            message=f"test claims falsifier {marker.falsifier_id}, which no contract declares",
            hint=f"did you mean `{close[0]}`?" if close else "declare it in a contract or remove the marker",
        ))
    return out
