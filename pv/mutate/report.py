"""What ``pv mutate`` returns: per falsifier, its mutation verdict (the ledger's entry) and whether it was re-run.

Kept apart from the machinery (``session.py``) so that rendering a report imports neither libcst
nor mutmut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pv.ledger import MutationEntry, MutationVerdict
from pv.plan import Planned


@dataclass
class FalsifierMutation:
    planned: Planned
    entry: MutationEntry
    kept: bool = False  # a fresh verdict from the ledger, not re-run (``changed``)


@dataclass
class MutateReport:
    results: list[FalsifierMutation] = field(default_factory=list)
    not_mutated: list[tuple[Planned, str]] = field(default_factory=list)  # LIVE, unbound, unresolved: why
    ledger_file: Path | None = None
    workers: int = 1
    mutants_run: int = 0
    duration_s: float = 0.0

    @property
    def blocking_problems(self) -> list[FalsifierMutation]:
        """Ship-blocking falsifiers whose test cannot fail (INERT) or could not be judged (ERROR)."""
        return [r for r in self.results if r.entry.ship_blocking
                and r.entry.verdict in (MutationVerdict.INERT, MutationVerdict.ERROR)]

    @property
    def ok(self) -> bool:
        return not self.blocking_problems


class Progress:
    """What ``pv mutate`` tells a watcher while it runs; silent by default."""

    def start(self, to_run: int, kept: int) -> None:
        """``to_run`` falsifiers will be mutated; ``kept`` fresh verdicts are reused."""

    def mutants(self, planned: Planned, count: int) -> None:
        """``count`` mutants were made for ``planned``."""

    def done(self, result: FalsifierMutation) -> None:
        """One falsifier is judged."""
