"""What ``pv verify`` will run: each declared falsifier with its binding resolved, and its ledger entry.

Shared by ``pv.verify`` (pytest-bound tests), ``pv.live`` (LIVE commands) and ``pytest --pv-ledger``,
which all turn a planned falsifier into a ``LedgerEntry`` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pv.binding import Binding, Resolution, parse_binding, resolve
from pv.freshness import entry_digest
from pv.ledger import LedgerEntry, Outcome, utc_now
from pv.loader import LoadedContract
from pv.models import FalsificationTest
from pv.testscan import TestIndex


@dataclass(frozen=True)
class Planned:
    """One declared falsifier, with its binding resolved statically."""

    contract: LoadedContract
    position: int
    falsifier: FalsificationTest
    binding: Binding
    resolution: Resolution

    @property
    def node_id(self) -> str | None:
        return self.resolution.target.node_id if self.resolution.target else None

    @property
    def line(self) -> int | None:
        key = ["falsification_tests", self.position, "test" if self.falsifier.test is not None else "id"]
        found = self.contract.positions.locate(key)
        return found[0] if found else None


def plan(loaded: list[LoadedContract], index: TestIndex) -> list[Planned]:
    out = []
    for lc in loaded:
        if lc.contract is None:
            continue
        for i, ft in enumerate(lc.contract.falsification_tests):
            binding = parse_binding(ft.test)
            out.append(Planned(lc, i, ft, binding, resolve(binding, index)))
    return out


def make_entry(p: Planned, root: Path, outcome: Outcome, reason: str | None = None, duration: float = 0.0, *,
               inputs: dict[str, str | None] | None = None, source: str = "pv verify", evidence: str | None = None,
               evidence_sha256: str | None = None, exit_code: int | None = None, timed_out: bool = False,
               output_tail: str | None = None) -> LedgerEntry:
    """A ledger entry for ``p``. Verdicts that ran nothing (not bound, LIVE or CMD not run, unresolved)
    have empty inputs: they are fresh until the contract entry changes (``pv.freshness``)."""
    ran = outcome in (Outcome.PASS, Outcome.FAIL, Outcome.SKIPPED) or (outcome is Outcome.ERROR and inputs)
    return LedgerEntry(
        falsifier_id=p.falsifier.id, contract_id=p.contract.id, outcome=outcome, reason=reason,
        ship_blocking=p.falsifier.ship_blocking, binding=p.falsifier.test, node_id=p.node_id,
        duration_s=round(duration, 6), contract_file=rel_path(p.contract.path, root),
        entry_sha256=entry_digest(p.falsifier), inputs=inputs if ran else (inputs or {}),
        evidence=evidence, evidence_sha256=evidence_sha256, exit_code=exit_code, timed_out=timed_out,
        output_tail=output_tail, recorded_at=utc_now(), source=source,
    )


def rel_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
