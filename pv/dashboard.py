"""``pv status`` as a library: where each contract stands, and what its next status still needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pv.assessment import assess
from pv.diagnostics import Diagnostic
from pv.ledger import brief
from pv.requirements import next_status, requirements
from pv.workspace import Workspace


@dataclass
class FalsifierStanding:
    """One falsifier's verdict in the ledger and whether it is still fresh (and if not, why)."""

    id: str
    binding: str  # node_id | name | live | unbound | invalid
    outcome: str | None
    freshness: str  # fresh | stale | missing
    why: str | None  # what changed, naming the file, when stale
    reason: str | None


@dataclass
class Standing:
    """One contract's row: claimed status and version, verdicts by outcome, and the gaps above and below."""

    id: str
    file: str
    status: str
    version: str
    falsifiers: int
    outcomes: dict[str, int]
    claim_supported: bool
    claim_gaps: list[str]
    next: str | None
    next_needs: list[str]
    verdicts: list[FalsifierStanding] = field(default_factory=list)


@dataclass
class Dashboard:
    rows: list[Standing] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ledger_found: bool = False
    commit: str | None = None
    verbose: bool = False  # list every falsifier, not only the stale and missing ones

    @property
    def ok(self) -> bool:
        return all(r.claim_supported for r in self.rows) and not self.diagnostics


def dashboard(ws: Workspace, paths: list[Path], *, verbose: bool = False) -> Dashboard:
    """Read the contracts at ``paths`` and the ledger (``LedgerError`` when unreadable); run nothing."""
    loaded = ws.load(paths)
    ledger = ws.ledger
    board = Dashboard(diagnostics=[d for lc in loaded for d in lc.diagnostics], ledger_found=ledger is not None,
                      commit=ws.repo_state.commit, verbose=verbose)
    for lc in loaded:
        if lc.contract is None:
            continue
        c = lc.contract
        assessment = assess(c, ws, ledger)
        claim = requirements(assessment, c.metadata.status, ws)
        nxt = next_status(c.metadata.status)
        board.rows.append(Standing(
            id=c.metadata.id, file=lc.display, status=c.metadata.status.value, version=c.metadata.version,
            falsifiers=len(c.falsification_tests), outcomes=assessment.by_outcome(), claim_supported=not claim,
            claim_gaps=claim, next=nxt.value if nxt else None,
            next_needs=requirements(assessment, nxt, ws) if nxt else [],
            verdicts=[FalsifierStanding(s.falsifier.id, s.kind.value, s.outcome.value if s.outcome else None,
                                        s.freshness, s.stale, brief(s.entry.reason) if s.entry and s.entry.reason
                                        else None) for s in assessment.supports]))
    return board
