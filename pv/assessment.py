"""How the ledger stands behind each falsifier of a contract right now.

A ledger entry supports a claim only while it is fresh (``pv.freshness.why_stale``): a pass
recorded before an edit to a file its test depended on proves nothing about the edit; an edit to
anything else leaves it standing. Skipped is not passed. ``pv.requirements`` turns an assessment
into what a status still lacks; ``pv.coverage`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pv.binding import BindingKind, parse_binding, resolve
from pv.freshness import why_stale
from pv.ledger import Ledger, LedgerEntry, MutationEntry, MutationVerdict, Outcome, brief
from pv.models import Contract, FalsificationTest
from pv.workspace import Workspace

# Non-LIVE bindings that run something and leave a verdict: they carry PARTIAL_ALGORITHM_LEVEL and FUNCTIONAL.
TEST_KINDS = (BindingKind.NODE_ID, BindingKind.NAME, BindingKind.CMD)


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

    @property
    def freshness(self) -> str:
        """fresh / stale / missing, as ``pv status`` shows it per falsifier."""
        return "missing" if self.entry is None else "stale" if self.stale else "fresh"

    def why_not(self) -> str:
        fid = self.falsifier.id
        if self.unresolved:
            return f"{fid}: binding does not resolve ({self.unresolved})"
        if self.entry is None:
            run = "pv verify --live" if self.kind is BindingKind.LIVE else "pv verify"
            return f"{fid}: no verdict in the ledger (run `{run}`)"
        reason = f": {brief(self.entry.reason)}" if self.entry.reason else ""
        if self.stale and self.entry.outcome is Outcome.PASS:
            run = "pv verify --live --changed" if self.kind is BindingKind.LIVE else "pv verify --changed"
            return f"{fid}: ledger verdict is stale: {self.stale} (run `{run}`)"
        if self.stale:
            return f"{fid}: {self.entry.outcome.value} in the ledger{reason} (stale too: {self.stale})"
        return f"{fid}: {self.entry.outcome.value} in the ledger{reason}"


@dataclass
class Assessment:
    contract: Contract
    supports: list[Support] = field(default_factory=list)
    mutations: dict[str, MutationEntry] = field(default_factory=dict)  # pv mutate's verdicts, by falsifier id

    def inert_blocking(self) -> list[str]:
        """Ship-blocking test-bound falsifiers whose last mutation verdict is INERT, each with why."""
        return [f"{s.falsifier.id}: mutation verdict INERT ({m.reason})" for s in self.supports
                if s.kind in TEST_KINDS and s.falsifier.ship_blocking
                and (m := self.mutations.get(s.falsifier.id)) is not None and m.verdict is MutationVerdict.INERT]

    def by_outcome(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.supports:
            key = "stale" if s.entry is not None and s.stale else (s.outcome.value if s.outcome else "no verdict")
            counts[key] = counts.get(key, 0) + 1
        return counts


def assess(contract: Contract, ws: Workspace, ledger: Ledger | None) -> Assessment:
    """Each falsifier of ``contract`` against ``ledger`` (read by the caller: it decides what unreadable means)."""
    entries = ledger.entries if ledger else {}
    mutations = (ledger.mutations or {}) if ledger else {}
    out = Assessment(contract, mutations={k: m for k, m in mutations.items() if m.contract_id == contract.metadata.id})
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
                stale = why_stale(entry, ft, ws.digests, node_id=res.target.node_id)
        elif entry is not None:
            stale = why_stale(entry, ft, ws.digests)
        out.supports.append(Support(ft, binding.kind, entry, stale, unresolved))
    return out
