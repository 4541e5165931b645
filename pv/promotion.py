"""Status promotion: what the ledger and evidence must show before a contract may claim a status.

The rules themselves are stated once, in ``pv.status_rules.STATUS_RULES``; this module is their
dynamic half (``static_requirements`` there covers what the files alone show). A ledger entry
supports a claim only while it is fresh (``pv.ledger.staleness``): a pass at another commit, or
before uncommitted edits, proves nothing about the code in front of us. Skipped is not passed.

Lowering a claim (a demotion, or DEPRECATED) needs nothing: it can only make a contract more
honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pv.binding import BindingKind, parse_binding, resolve
from pv.enums import Status
from pv.evidence import evidence_problems
from pv.ledger import Ledger, LedgerEntry, Outcome, RepoState, brief, repo_state, sha256_file, staleness
from pv.models import Contract, FalsificationTest
from pv.status_rules import static_requirements
from pv.testscan import TestIndex


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


def assess(contract: Contract, root: Path, ledger: Ledger | None, index: TestIndex,
           state: RepoState | None = None) -> Assessment:
    state = state if state is not None else repo_state(root)
    entries = ledger.entries if ledger else {}
    out = Assessment(contract)
    for ft in contract.falsification_tests:
        binding = parse_binding(ft.test)
        entry = entries.get(ft.id)
        if entry is not None and entry.contract_id != contract.metadata.id:
            entry = None  # the same id recorded for another contract: not ours to trust
        unresolved = stale = None
        if binding.kind in (BindingKind.NODE_ID, BindingKind.NAME, BindingKind.INVALID):
            res = resolve(binding, index)
            if res.target is None:
                unresolved = res.problem or "unresolved"
            elif entry is not None:
                stale = staleness(entry, state, current_test_sha=sha256_file(root / res.target.file),
                                  current_node_id=res.target.node_id)
        elif binding.kind is BindingKind.LIVE and entry is not None and entry.binding != ft.test:
            stale = "the LIVE command changed since it was recorded"
        out.supports.append(Support(ft, binding.kind, entry, stale, unresolved))
    return out


def ledger_requirements(assessment: Assessment, status: Status, root: Path) -> list[str]:
    """What the ledger and evidence still lack for ``status`` (empty when they support it)."""
    if status is Status.DEPRECATED or status.rank < Status.PARTIAL_ALGORITHM_LEVEL.rank:
        return []
    tests = [s for s in assessment.supports if s.kind in (BindingKind.NODE_ID, BindingKind.NAME)]
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
            for problem in evidence_problems(root, s.entry.evidence if s.entry else None, ft.id,
                                             parse_binding(ft.test).command, ft.check, ft.artifacts,
                                             ft.loss_floor):
                missing.append(f"{ft.id}: {problem}")
    return missing


def requirements(contract: Contract, status: Status, root: Path, ledger: Ledger | None, index: TestIndex,
                 state: RepoState | None = None) -> list[str]:
    """Everything still missing for ``contract`` to hold ``status``: static rules, then the ledger's."""
    static = static_requirements(contract, status, root)
    return static + ledger_requirements(assess(contract, root, ledger, index, state), status, root)


def next_status(current: Status) -> Status | None:
    """The next rung up, or None at the top (ACTIVE_RUNTIME) and for DEPRECATED."""
    if current in (Status.ACTIVE_RUNTIME, Status.DEPRECATED):
        return None
    order = [s for s in Status if s is not Status.DEPRECATED]
    return order[order.index(current) + 1]
