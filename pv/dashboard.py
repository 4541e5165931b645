"""``pv status`` as a library: where each contract stands, and what its next status still needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pv.assessment import assess
from pv.diagnostics import Diagnostic
from pv.requirements import next_status, requirements
from pv.workspace import Workspace


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


@dataclass
class Dashboard:
    rows: list[Standing] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ledger_found: bool = False
    commit: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.claim_supported for r in self.rows) and not self.diagnostics


def dashboard(ws: Workspace, paths: list[Path]) -> Dashboard:
    """Read the contracts at ``paths`` and the ledger (``LedgerError`` when unreadable); run nothing."""
    loaded = ws.load(paths)
    ledger = ws.ledger
    board = Dashboard(diagnostics=[d for lc in loaded for d in lc.diagnostics], ledger_found=ledger is not None,
                      commit=ws.repo_state.commit)
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
            next_needs=requirements(assessment, nxt, ws) if nxt else []))
    return board
