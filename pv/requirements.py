"""What each contract status requires: the rules in one table, and what a contract still lacks.

``static_requirements`` answers "what is still missing for this contract to hold status S?" from
what can be seen statically (bindings, evidence folders): lint gate 6 reports these as errors.
``ledger_requirements`` is the dynamic half, from an assessment of the ledger (tests passing at
the current commit, LIVE evidence still matching); ``pv promote`` enforces both, and lint warns
about the dynamic half when a ledger exists.

Lowering a claim (a demotion, or DEPRECATED) needs nothing: it can only make a contract more
honest.
"""

from __future__ import annotations

from pv.assessment import Assessment
from pv.binding import BindingKind, parse_binding
from pv.enums import Status
from pv.evidence import evidence_problems
from pv.ledger import Outcome
from pv.models import Contract
from pv.workspace import Workspace

STATUS_RULES: dict[Status, str] = {
    Status.DRAFT: "Schema-valid. Falsifiers may be unbound.",
    Status.PROPOSED: "Every falsifier states rule, prediction and if_fails (schema-enforced).",
    Status.PARTIAL_ALGORITHM_LEVEL: "At least one falsifier bound to a test, with a fresh pass in the ledger.",
    Status.FUNCTIONAL: "Every falsifier bound (test, CMD or LIVE); every test binding resolves and every test and "
    "CMD binding has a fresh pass in the ledger (same commit, no uncommitted changes since, same test file "
    "content; a CMD binding with `inputs:` stays fresh while those files are unchanged). Skipped is not passed.",
    Status.ACTIVE_RUNTIME: "FUNCTIONAL, plus every ship-blocking LIVE falsifier passed under `pv verify --live` "
    "with an evidence folder under evidence/<contract-id>/ whose command, check and artifact hashes still match.",
    Status.DEPRECATED: "No requirements; the contract is kept for history. Lowering a status never needs evidence.",
}


def static_requirements(contract: Contract, status: Status, ws: Workspace) -> list[str]:
    """Missing static requirements for ``contract`` to hold ``status`` (empty when satisfied)."""
    if status is Status.DEPRECATED:
        return []
    missing: list[str] = []
    kinds = {ft.id: parse_binding(ft.test).kind for ft in contract.falsification_tests}
    if status.rank >= Status.PARTIAL_ALGORITHM_LEVEL.rank and not any(
        k not in (BindingKind.UNBOUND, BindingKind.INVALID) for k in kinds.values()
    ):
        missing.append("no falsifier is bound to a test")
    if status.rank >= Status.FUNCTIONAL.rank:
        unbound = [fid for fid, k in kinds.items() if k is BindingKind.UNBOUND]
        if unbound:
            missing.append(f"unbound falsifiers: {', '.join(unbound)}")
    if status is Status.ACTIVE_RUNTIME:
        evidence = ws.evidence_dir / contract.metadata.id
        if not evidence.is_dir() or not any(p.is_dir() for p in evidence.iterdir()):
            missing.append(f"no evidence recorded under {ws.settings.evidence_dir}/{contract.metadata.id}/")
    return missing


def ledger_requirements(assessment: Assessment, status: Status, ws: Workspace) -> list[str]:
    """What the ledger and evidence still lack for ``status`` (empty when they support it)."""
    if status is Status.DEPRECATED or status.rank < Status.PARTIAL_ALGORITHM_LEVEL.rank:
        return []
    tests = [s for s in assessment.supports if s.kind in (BindingKind.NODE_ID, BindingKind.NAME, BindingKind.CMD)]
    missing: list[str] = []
    if status is Status.PARTIAL_ALGORITHM_LEVEL:
        if not any(s.fresh_pass for s in assessment.supports):
            missing.append("no bound falsifier has a fresh pass in the ledger (run `pv verify`)")
        return missing
    missing += [s.why_not() for s in assessment.supports if s.kind is BindingKind.INVALID]
    missing += [s.why_not() for s in tests if not s.fresh_pass]
    if status is Status.ACTIVE_RUNTIME:
        for s in assessment.supports:
            if s.kind is not BindingKind.LIVE or not s.falsifier.ship_blocking:
                continue
            if not s.fresh_pass:
                live_hint = " (run `pv verify --live`)" if s.entry is None or s.entry.outcome is \
                    Outcome.LIVE_NOT_RUN else ""
                missing.append(s.why_not().replace("(run `pv verify`)", "") + live_hint)
                continue
            ft = s.falsifier
            for problem in evidence_problems(ws.root, s.entry.evidence if s.entry else None, ft.id,
                                             parse_binding(ft.test).command, ft.check, ft.artifacts,
                                             ft.loss_floor):
                missing.append(f"{ft.id}: {problem}")
    return missing


def requirements(assessment: Assessment, status: Status, ws: Workspace) -> list[str]:
    """Everything still missing for the assessed contract to hold ``status``: static rules, then the ledger's."""
    return static_requirements(assessment.contract, status, ws) + ledger_requirements(assessment, status, ws)


def next_status(current: Status) -> Status | None:
    """The next rung up, or None at the top (ACTIVE_RUNTIME) and for DEPRECATED."""
    if current in (Status.ACTIVE_RUNTIME, Status.DEPRECATED):
        return None
    order = [s for s in Status if s is not Status.DEPRECATED]
    return order[order.index(current) + 1]
