"""From mutant runs to a falsifier's mutation verdict: STRONG, INERT or NO-SUBJECT (or ERROR).

A run's pytest exit status says what happened to a mutant: 0, the test passed (the mutant
*survived*); 1, the test failed, or a crash killed it (*killed*); no status within the timeout
(*timed out*: detected, but not counted as a kill); 2-5, the test did not collect or import with the
mutant in place (*incompetent*: neither a kill nor a survivor). A mutant that does not even compile
is incompetent without running.

The score is detected (killed + timed out) / competent (killed + survived + timed out) mutants.
STRONG needs at least one kill; INERT means mutants ran and none was killed; NO-SUBJECT means
there was nothing to mutate (the test runs no project code, or only code mutmut leaves alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pv.freshness import entry_digest
from pv.ledger import MutationEntry, MutationVerdict, Survivor, utc_now
from pv.mutate.mutants import Mutant
from pv.mutate.runner import RunResult, WorkerDied, WorkerPool
from pv.plan import Planned

INCOMPETENT_EXITS = (2, 3, 4, 5)  # interrupted (collection error), internal error, usage error, nothing collected


class Status(StrEnum):
    KILLED = "killed"
    SURVIVED = "survived"
    TIMED_OUT = "timed out"
    INCOMPETENT = "incompetent"


def status_of(result: RunResult) -> Status:
    if result.timed_out:
        return Status.TIMED_OUT
    if result.exit == 0:
        return Status.SURVIVED
    if result.exit in INCOMPETENT_EXITS:
        return Status.INCOMPETENT
    return Status.KILLED


def classify(pool: WorkerPool, root: Path, node_id: str, mutant: Mutant, timeout_s: float) -> Status:
    """Run ``node_id`` against ``mutant`` and say what became of the mutant."""
    path = root / mutant.file
    try:
        compile(mutant.source, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return Status.INCOMPETENT
    try:
        return status_of(pool.run(node_id, overlay={str(path.resolve()): mutant.source}, timeout_s=timeout_s))
    except WorkerDied:
        return Status.INCOMPETENT  # the worker itself went away: never count that as a kill


@dataclass
class Tally:
    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    survivors: list[Mutant] = field(default_factory=list)
    not_run: int = 0  # made, but left out of the sample (--max-mutants)

    def add(self, mutant: Mutant, status: Status) -> None:
        self.counts[status] += 1
        if status is Status.SURVIVED:
            self.survivors.append(mutant)

    @property
    def generated(self) -> int:
        return sum(self.counts.values())


def judge(p: Planned, root: Path, tally: Tally, clean: RunResult | None, problem: str | None,
          subject: dict[str, set[int] | None], inputs: dict[str, str | None] | None) -> MutationEntry:
    """The ledger's mutation entry for ``p``."""
    del root  # paths in the entry are already repo-relative
    c = tally.counts
    if problem is not None:
        verdict, reason = MutationVerdict.ERROR, problem
    elif tally.generated == 0:
        verdict = MutationVerdict.NO_SUBJECT
        reason = ("its subject holds nothing mutmut mutates" if subject else
                  "the test executes no repository source outside the test folders; name what it guards "
                  "with `subject:`")
    elif c[Status.KILLED]:
        verdict, reason = MutationVerdict.STRONG, None
    elif tally.generated == c[Status.INCOMPETENT]:
        verdict, reason = MutationVerdict.ERROR, "every mutant was incompetent (did not import or collect)"
    else:
        verdict = MutationVerdict.INERT
        reason = (f"the test killed none of {tally.generated - c[Status.INCOMPETENT]} mutants of its subject: "
                  "it cannot fail when that code is broken; add an assertion a mutant breaks")
    survivors = sorted(tally.survivors, key=lambda m: (m.file, m.line, m.diff))
    return MutationEntry(
        falsifier_id=p.falsifier.id, contract_id=p.contract.id, verdict=verdict, reason=reason,
        ship_blocking=p.falsifier.ship_blocking, node_id=p.node_id,
        subject=[f"{rel} ({'all' if lines is None else len(lines)} lines)" for rel, lines in sorted(subject.items())],
        generated=tally.generated, killed=c[Status.KILLED], survived=c[Status.SURVIVED],
        timed_out=c[Status.TIMED_OUT], incompetent=c[Status.INCOMPETENT], not_run=tally.not_run,
        survivors=[Survivor(file=m.file, line=m.line, diff=m.diff) for m in survivors],
        clean_s=round(clean.duration_s, 3) if clean else 0.0, entry_sha256=entry_digest(p.falsifier),
        inputs=inputs, recorded_at=utc_now(),
    )
