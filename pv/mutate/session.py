"""``pv mutate`` as a library: can each falsifier's bound test fail when the code it guards is broken?

For each selected falsifier bound to a test (LIVE commands and unbound falsifiers are not
mutated): run the test once, clean, under ``coverage`` (it must pass; its time sets the mutants'
timeout and its executed lines the subject unless ``subject:`` names one); make mutmut's mutants
of the subject (``mutants.py``); run the test alone against each, in a fresh child of a warm worker
that imports the mutant through an overlay (``worker.py``, ``overlay.py``: no file is ever
written); count kills, survivors, timeouts and incompetent mutants (those that do not import or
collect), and judge (``verdict.py``). Verdicts go to the ledger beside the test verdicts, with the
digests of the files they were reached from, so ``changed=True`` re-runs only stale ones.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pv.binding import BindingKind
from pv.freshness import Digests, listing, record_inputs, why_stale
from pv.ledger import Ledger, LedgerError, MutationEntry, MutationVerdict, read_ledger, update_mutations
from pv.mutate.mutants import Mutant, SourceError, mutants_of
from pv.mutate.report import FalsifierMutation, MutateReport, Progress
from pv.mutate.runner import RunResult, WorkerDied, WorkerPool
from pv.mutate.subject import NOT_SUBJECTS, declared_lines, executed_lines
from pv.mutate.verdict import Tally, classify, judge
from pv.plan import Planned
from pv.verify import planned_for
from pv.workspace import Workspace

TIMEOUT_SLACK_S = 2.0  # on top of factor x clean time: forking and pytest's start-up vary under load


@dataclass
class _Work:
    planned: Planned
    clean: RunResult | None = None
    problem: str | None = None
    subject: dict[str, set[int] | None] = field(default_factory=dict)
    mutants: list[Mutant] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    remaining: int = 0


def mutate(ws: Workspace, paths: list[Path], *, patterns: list[str] | None = None, changed: bool = False,
           workers: int = 2, timeout_factor: float = 3.0, max_mutants: int = 0, write: bool = True,
           progress: Progress | None = None) -> MutateReport:
    """Mutation analysis of the bound tests of the contracts at ``paths``; see the module docstring.

    Raises :class:`pv.verify.VerifyInputError` when a contract does not load and
    :class:`pv.verify.VerifyError` for a selection that matches nothing.
    """
    start = time.perf_counter()
    progress = progress or Progress()
    _, planned = planned_for(ws, paths, patterns or [], "mutate")
    report = MutateReport(workers=max(1, workers))
    old = _read_quietly(ws.ledger_file)
    todo: list[_Work] = []
    for p in planned:
        why_not = _not_mutable(p)
        if why_not is not None:
            report.not_mutated.append((p, why_not))
            continue
        kept = _fresh(old, p, ws.digests) if changed else None
        if kept is not None:
            report.results.append(FalsifierMutation(p, kept, kept=True))
        else:
            todo.append(_Work(p))
    progress.start(len(todo), len(report.results))
    if todo:
        if write:  # each verdict is recorded as it is reached: a long run cut short keeps what it found
            report.ledger_file = ws.ledger_file
        _run(ws, todo, old, report, workers=report.workers, timeout_factor=timeout_factor, max_mutants=max_mutants,
             progress=progress)
    order = {id(p): i for i, p in enumerate(planned)}
    report.results.sort(key=lambda r: order[id(r.planned)])
    report.duration_s = round(time.perf_counter() - start, 3)
    return report


def _not_mutable(p: Planned) -> str | None:
    if p.binding.kind in (BindingKind.LIVE, BindingKind.CMD):
        return f"{p.binding.kind.value.upper()}: binding: pv mutate runs bound pytest tests only"
    if p.binding.kind is BindingKind.UNBOUND:
        return "no `test:` binding"
    if not p.resolution.resolved or not p.node_id:
        return f"binding does not resolve: {p.resolution.problem}"
    return None


def _read_quietly(path: Path) -> Ledger | None:
    try:
        return read_ledger(path)
    except LedgerError:
        return None


def _fresh(ledger: Ledger | None, p: Planned, digests: Digests) -> MutationEntry | None:
    entry = (ledger.mutations or {}).get(p.falsifier.id) if ledger else None
    if entry is None or entry.contract_id != p.contract.id or entry.verdict is MutationVerdict.ERROR:
        return None
    return entry if why_stale(entry, p.falsifier, digests, node_id=p.node_id) is None else None


def _run(ws: Workspace, todo: list[_Work], old: Ledger | None, report: MutateReport, *, workers: int,
         timeout_factor: float, max_mutants: int, progress: Progress) -> None:
    root = ws.root
    not_subjects = [d.strip("/") for d in (*ws.settings.test_dirs, *NOT_SUBJECTS)]
    omit = [f"{d}/*" for d in not_subjects]
    candidates = set(listing(root))
    lock = threading.Lock()

    def finish(work: _Work) -> None:
        entry = judge(work.planned, root, work.tally, work.clean, work.problem, work.subject, _inputs(ws, work, old))
        result = FalsifierMutation(work.planned, entry)
        with lock:
            report.results.append(result)
            if report.ledger_file is not None:
                update_mutations(report.ledger_file, [entry])
        progress.done(result)

    with WorkerPool(root, workers) as pool:
        def clean_run(work: _Work) -> RunResult | None:
            assert work.planned.node_id is not None
            try:
                return pool.run(work.planned.node_id, trace=True, omit=omit)
            except WorkerDied as exc:
                work.problem = f"the clean run could not be made: {exc}"
                return None

        third_party: set[str] = set()

        def traced(work: _Work, clean: RunResult | None) -> None:
            work.clean = clean
            if clean is None:
                return
            if clean.exit != 0:
                what = "timed out" if clean.timed_out else f"exited {clean.exit}"
                work.problem = (f"the test does not pass unmutated (pytest {what}); run `pv verify` and fix it "
                                f"first. Output: {clean.tail[-600:]}")
                return
            trace = clean.trace or {}
            third_party.update(trace.get("third_party", []))
            declared = work.planned.falsifier.subject
            work.subject = (declared_lines(root, declared) if declared else
                            executed_lines(root, trace.get("lines", {}), candidates, not_subjects))
            try:
                work.mutants = [m for rel, lines in sorted(work.subject.items())
                                for m in mutants_of(rel, (root / rel).read_text(encoding="utf-8"), lines)]
            except (OSError, UnicodeDecodeError, SourceError) as exc:
                work.problem = f"cannot make mutants: {exc}"
            work.mutants, work.tally.not_run = sample(work.mutants, max_mutants)
            progress.mutants(work.planned, len(work.mutants))

        pool.map(todo, clean_run, traced)
        pool.preload(sorted(third_party))
        jobs: list[tuple[_Work, Mutant]] = []
        for work in todo:
            if work.problem or not work.mutants:
                finish(work)
                continue
            work.remaining = len(work.mutants)
            jobs += [(work, m) for m in work.mutants]

        def run_mutant(job: tuple[_Work, Mutant]) -> Any:
            work, mutant = job
            assert work.clean is not None and work.planned.node_id is not None
            return classify(pool, root, work.planned.node_id, mutant,
                            timeout_factor * work.clean.duration_s + TIMEOUT_SLACK_S)

        def mutant_done(job: tuple[_Work, Mutant], status: Any) -> None:
            work, mutant = job
            work.tally.add(mutant, status)
            work.remaining -= 1
            report.mutants_run += 1
            if work.remaining == 0:
                finish(work)

        pool.map(jobs, run_mutant, mutant_done)


def sample(mutants: list[Mutant], limit: int) -> tuple[list[Mutant], int]:
    """At most ``limit`` mutants (0: all), an even, deterministic sample by the mutants' digests, and how many
    were left out. The same code always gives the same sample, so verdicts do not flicker between runs."""
    if limit <= 0 or len(mutants) <= limit:
        return mutants, 0
    chosen = sorted(mutants, key=lambda m: hashlib.sha256(m.key.encode()).hexdigest())[:limit]
    return sorted(chosen, key=lambda m: (m.file, m.line, m.key)), len(mutants) - limit


def _inputs(ws: Workspace, work: _Work, old: Ledger | None) -> dict[str, str | None] | None:
    """What the verdict rests on: the fresh test verdict's inputs when the ledger has them, else what the
    clean run imported, plus the subject files and the test module."""
    p = work.planned
    entry = old.entries.get(p.falsifier.id) if old else None
    if entry is not None and entry.inputs and why_stale(entry, p.falsifier, ws.digests, node_id=p.node_id) is None:
        return {**entry.inputs, **ws.digests.of(work.subject)}
    if work.clean is None or work.clean.trace is None:
        return None
    files = [*work.clean.trace.get("files", []), *(str(ws.root / rel) for rel in work.subject)]
    if p.node_id:
        files.append(str(ws.root / p.node_id.split("::", 1)[0]))
    return record_inputs(ws.root, files, ws.digests)

