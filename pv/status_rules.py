"""What each contract status requires, in one table.

``static_requirements`` answers "what is still missing for this contract to hold status S?" from
what can be seen statically (bindings, evidence folders): lint gate 6 reports these as errors.
``pv verify``'s ledger adds the dynamic half (tests passing at the current commit, LIVE evidence
still matching) in ``pv.promotion``; ``pv promote`` enforces both, and lint warns about the
dynamic half when a ledger exists.
"""

from __future__ import annotations

from pathlib import Path

from pv.binding import BindingKind, parse_binding
from pv.enums import Status
from pv.models import Contract

STATUS_RULES: dict[Status, str] = {
    Status.DRAFT: "Schema-valid. Falsifiers may be unbound.",
    Status.PROPOSED: "Every falsifier states rule, prediction and if_fails (schema-enforced).",
    Status.PARTIAL_ALGORITHM_LEVEL: "At least one falsifier bound to a test, with a fresh pass in the ledger.",
    Status.FUNCTIONAL: "Every falsifier bound (test or LIVE); every test binding resolves and has a fresh pass "
    "in the ledger (same commit, no uncommitted changes since, same test file content). Skipped is not passed.",
    Status.ACTIVE_RUNTIME: "FUNCTIONAL, plus every ship-blocking LIVE falsifier passed under `pv verify --live` "
    "with an evidence folder under evidence/<contract-id>/ whose command, check and artifact hashes still match.",
    Status.DEPRECATED: "No requirements; the contract is kept for history. Lowering a status never needs evidence.",
}


def static_requirements(contract: Contract, status: Status, root: Path) -> list[str]:
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
        evidence = root / "evidence" / contract.metadata.id
        if not evidence.is_dir() or not any(p.is_dir() for p in evidence.iterdir()):
            missing.append(f"no evidence recorded under evidence/{contract.metadata.id}/")
    return missing
