"""How the ledger stands behind each falsifier of a contract right now.

A ledger entry supports a claim only while it is fresh (``pv.ledger.staleness``): a pass at
another commit, or before uncommitted edits, proves nothing about the code in front of us.
Skipped is not passed. ``pv.requirements`` turns an assessment into what a status still lacks;
``pv.coverage`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pv.binding import BindingKind, parse_binding, resolve
from pv.cmd_inputs import cmd_staleness
from pv.fileio import sha256_file
from pv.ledger import Ledger, LedgerEntry, Outcome, brief, staleness
from pv.models import Contract, FalsificationTest
from pv.workspace import Workspace


@dataclass(frozen=True)
class Support:
    """How the ledger stands behind one falsifier right now."""

    falsifier: FalsificationTest
    kind: BindingKind
    entry: LedgerEntry | None
    stale: str | None = None  # why the entry no longer counts
    unresolved: str | None = None  # why the binding does not resolve to a test

    @property
    def outcome(self) -> Outcome | None:
        return self.entry.outcome if self.entry else None

    @property
    def fresh_pass(self) -> bool:
        return self.entry is not None and self.entry.outcome is Outcome.PASS and self.stale is None

    def why_not(self) -> str:
        fid = self.falsifier.id
        if self.unresolved:
            return f"{fid}: binding does not resolve ({self.unresolved})"
        if self.entry is None:
            return f"{fid}: no verdict in the ledger (run `pv verify`)"
        reason = f": {brief(self.entry.reason)}" if self.entry.reason else ""
        if self.stale and self.entry.outcome is Outcome.PASS:
            return f"{fid}: ledger verdict is stale: {self.stale} (run `pv verify` again)"
        if self.stale:
            return f"{fid}: {self.entry.outcome.value} in the ledger{reason} (stale too: {self.stale})"
        return f"{fid}: {self.entry.outcome.value} in the ledger{reason}"


@dataclass
class Assessment:
    contract: Contract
    supports: list[Support] = field(default_factory=list)

    def by_outcome(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.supports:
            key = "stale" if s.entry is not None and s.stale else (s.outcome.value if s.outcome else "no verdict")
            counts[key] = counts.get(key, 0) + 1
        return counts


def assess(contract: Contract, ws: Workspace, ledger: Ledger | None) -> Assessment:
    """Each falsifier of ``contract`` against ``ledger`` (read by the caller: it decides what unreadable means)."""
    entries = ledger.entries if ledger else {}
    out = Assessment(contract)
    for ft in contract.falsification_tests:
        binding = parse_binding(ft.test)
        entry = entries.get(ft.id)
        if entry is not None and entry.contract_id != contract.metadata.id:
            entry = None  # the same id recorded for another contract: not ours to trust
        unresolved = stale = None
        if binding.kind in (BindingKind.NODE_ID, BindingKind.NAME, BindingKind.INVALID):
            res = resolve(binding, ws.test_index)
            if res.target is None:
                unresolved = res.problem or "unresolved"
            elif entry is not None:
                stale = staleness(entry, ws.repo_state, current_test_sha=sha256_file(ws.root / res.target.file),
                                  current_node_id=res.target.node_id)
        elif binding.kind is BindingKind.CMD and entry is not None:
            stale = cmd_staleness(entry, ft.test, ft.inputs, ws.root, ws.repo_state)
        elif binding.kind is BindingKind.LIVE and entry is not None and entry.binding != ft.test:
            stale = "the LIVE command changed since it was recorded"
        out.supports.append(Support(ft, binding.kind, entry, stale, unresolved))
    return out
