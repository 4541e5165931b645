"""What each contract status requires: the rules in one table, and what a contract still lacks.

``static_requirements`` answers "what is still missing for this contract to hold status S?" from
what can be seen statically (the bindings): lint gate 6 reports these as errors.
``ledger_requirements`` is the dynamic half, from an assessment of the ledger (fresh passes, LIVE
evidence still matching); ``pv promote`` and ``pv status`` enforce both, and lint warns about the
dynamic half when a ledger exists.

No status is reachable vacuously: each rung above PROPOSED needs at least one verdict that could
have failed (a non-LIVE pass for PARTIAL/FUNCTIONAL, a LIVE pass with evidence for ACTIVE_RUNTIME).

Lowering a claim (a demotion, or DEPRECATED) needs nothing: it can only make a contract more
honest.
"""

from __future__ import annotations

from pv.assessment import TEST_KINDS, Assessment
from pv.binding import BindingKind, parse_binding
from pv.enums import Status
from pv.evidence import evidence_problems
from pv.models import Contract
from pv.workspace import Workspace

STATUS_RULES: dict[Status, str] = {
    Status.DRAFT: "Schema-valid. Falsifiers may be unbound.",
    Status.PROPOSED: "Every falsifier states rule, prediction and if_fails (schema-enforced).",
    Status.PARTIAL_ALGORITHM_LEVEL: "At least one non-LIVE falsifier bound to a test or CMD, with a fresh pass in the "
    "ledger. LIVE falsifiers never carry this status alone (no green 0/0).",
    Status.FUNCTIONAL: "Every falsifier bound (test, CMD or LIVE); at least one non-LIVE binding, and every test "
    "binding resolves and every test and CMD binding has a fresh pass in the ledger. Fresh: the falsifier's own "
    "contract entry and every repository file its test imported, read or ran in a child process still hash as "
    "recorded (uncommitted and untracked files included); a CMD binding's files are those its `inputs:` globs match, "
    "or every non-ignored file without them. Skipped is not passed; a LIVE-only contract cannot be FUNCTIONAL. "
    "No ship-blocking falsifier's mutation verdict (`pv mutate`) is INERT: a test that killed no mutant of the code "
    "it guards cannot fail, so its pass counts for nothing.",
    Status.ACTIVE_RUNTIME: "FUNCTIONAL, plus at least one LIVE falsifier, and every LIVE falsifier (ship-blocking or "
    "advisory) has a fresh pass recorded by `pv verify --live`: its evidence folder exists and is tracked by git, "
    "its record.json is the one recorded, its command, check, loss_floor and artifact hashes still match, and the "
    "repository files the command loaded are unchanged, so editing a subject module the run used means re-running "
    "it. An empty or hand-made evidence folder never counts.",
    Status.DEPRECATED: "No requirements; the contract is kept for history. Lowering a status never needs evidence.",
}


def static_requirements(contract: Contract, status: Status, ws: Workspace) -> list[str]:
    """Missing static requirements for ``contract`` to hold ``status`` (empty when satisfied).

    Evidence is judged from the ledger (``ledger_requirements``), never from a folder merely existing.
    """
    del ws  # the bindings alone decide the static half
    if status is Status.DEPRECATED:
        return []
    missing: list[str] = []
    kinds = {ft.id: parse_binding(ft.test).kind for ft in contract.falsification_tests}
    if status.rank >= Status.PARTIAL_ALGORITHM_LEVEL.rank and not any(k in TEST_KINDS for k in kinds.values()):
        live = [fid for fid, k in kinds.items() if k is BindingKind.LIVE]
        missing.append("no falsifier is bound to a non-LIVE test" + (
            f" (LIVE falsifiers alone cannot carry {status.value}: {', '.join(live)})" if live else ""))
    if status.rank >= Status.FUNCTIONAL.rank:
        unbound = [fid for fid, k in kinds.items() if k is BindingKind.UNBOUND]
        if unbound:
            missing.append(f"unbound falsifiers: {', '.join(unbound)}")
    if status is Status.ACTIVE_RUNTIME and BindingKind.LIVE not in kinds.values():
        missing.append("no LIVE falsifier: ACTIVE_RUNTIME needs at least one `LIVE:` falsifier with a fresh pass "
                       "from `pv verify --live` and committed evidence")
    return missing


def ledger_requirements(assessment: Assessment, status: Status, ws: Workspace) -> list[str]:
    """What the ledger and evidence still lack for ``status`` (empty when they support it)."""
    if status is Status.DEPRECATED or status.rank < Status.PARTIAL_ALGORITHM_LEVEL.rank:
        return []
    tests = [s for s in assessment.supports if s.kind in TEST_KINDS]
    missing: list[str] = []
    if status is Status.PARTIAL_ALGORITHM_LEVEL:
        if tests and not any(s.fresh_pass for s in tests):
            missing.append("no non-LIVE falsifier has a fresh pass in the ledger (run `pv verify`)")
        return missing
    missing += [s.why_not() for s in assessment.supports if s.kind is BindingKind.INVALID]
    missing += [s.why_not() for s in tests if not s.fresh_pass]
    missing += assessment.inert_blocking()
    if status is Status.ACTIVE_RUNTIME:
        for s in assessment.supports:
            if s.kind is not BindingKind.LIVE:
                continue
            if not s.fresh_pass:
                missing.append(s.why_not())  # a live-not-run verdict's reason says how to run it
                continue
            missing += [f"{s.falsifier.id}: {problem}" for problem in evidence_problems(ws.root, s.entry, s.falsifier)]
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
