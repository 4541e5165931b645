"""Only with ``pv lint --since REF``: a contract changed since REF carries the semver bump the change needs.

The change is classified by ``pv.contract_diff`` (removing or weakening a falsifier is major,
adding one minor, rewording patch); the contract's version must rise by at least that much and
its changelog gain an entry for the new version. A contract that did not exist at REF is new and
needs nothing here.
"""

from __future__ import annotations

from pv.contract_diff import judge, next_version
from pv.diagnostics import Diagnostic, Severity
from pv.gitrev import GitError, file_at
from pv.lint_context import GateInfo, LintContext
from pv.loader import load_contract_text

GATE = GateInfo(
    name="version-bump",
    title="changes since REF carry their semver bump and changelog entry",
    fails_when="(only with `--since REF`) a contract changed since REF without the bump `pv diff` says it needs",
)

SHOWN_CHANGES = 3


def check(ctx: LintContext) -> list[Diagnostic]:
    if ctx.since is None:
        return []
    ref, commit = ctx.since
    out = []
    for lc, contract in ctx.valid:
        try:
            old_text = file_at(ctx.root, commit, lc.path)
        except GitError as exc:
            out.append(ctx.diag(lc, [], f"cannot read it at {ref}: {exc}", code=GATE.name,
                                severity=Severity.WARNING))
            continue
        if old_text is None:
            continue
        old = load_contract_text(old_text, lc.path, f"{ref}:{lc.display}").contract
        if old is None:
            out.append(ctx.diag(lc, [], f"the version at {ref} does not validate, so the change cannot be classified",
                                code=GATE.name, severity=Severity.WARNING))
            continue
        verdict = judge(old, contract)
        if verdict.ok:
            continue
        top = sorted(verdict.changes, key=lambda c: -c.bump)
        shown = "; ".join(f"{c.what} ({c.bump.label})" for c in top[:SHOWN_CHANGES])
        more = f"; and {len(top) - SHOWN_CHANGES} more" if len(top) > SHOWN_CHANGES else ""
        needed = next_version(verdict.old_version, verdict.required)
        out.append(ctx.diag(
            lc, ["metadata", "version"],
            f"changed since {ref} ({shown}{more}): " + "; ".join(verdict.problems),
            hint=f"set version: {needed} (or higher) and add a changelog entry for it; `pv diff {ref}:"
                 f"{lc.display} {lc.display}` lists every change",
            code=GATE.name))
    return out
