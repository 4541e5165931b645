"""Falsifier coverage with a vacuity guard and a ratchet.

Two ratios, per contract and overall: *bound* = falsifiers with a resolving test or a LIVE
command ÷ declared, and *passing* = fresh passes in the ledger ÷ bound; and the *mutation score*
(``pv mutate``): mutants detected (killed or timed out) ÷ competent mutants, over every falsifier
with a fresh mutation verdict, with how many falsifiers have one and how many are INERT. The guard exists because a
coverage gate once reported 0/0 for months: a scan that finds fewer falsifiers than ``floor`` is a
failure, never a vacuous 100%. The ratchet file is a committed baseline; coverage may rise
(pv rewrites the file) but never fall.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pv.assessment import assess
from pv.binding import BindingKind
from pv.fileio import atomic_write_text, read_text
from pv.freshness import why_stale
from pv.ledger import Ledger, MutationVerdict
from pv.loader import LoadedContract
from pv.workspace import Workspace


@dataclass
class Counts:
    declared: int = 0
    bound: int = 0
    live: int = 0
    passing: int = 0
    mutated: int = 0  # falsifiers with a mutation verdict (pv mutate)
    inert: int = 0
    detected: int = 0  # mutants killed or timed out, over every mutated falsifier
    competent: int = 0  # mutants that imported and ran

    @property
    def mutation_score(self) -> float:
        return 100.0 * self.detected / self.competent if self.competent else 0.0

    @property
    def bound_pct(self) -> float:
        return 100.0 * self.bound / self.declared if self.declared else 0.0

    @property
    def passing_pct(self) -> float:
        return 100.0 * self.passing / self.bound if self.bound else 0.0

    def add(self, other: Counts) -> None:
        self.declared += other.declared
        self.bound += other.bound
        self.live += other.live
        self.passing += other.passing
        self.mutated += other.mutated
        self.inert += other.inert
        self.detected += other.detected
        self.competent += other.competent

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "bound_pct": round(self.bound_pct, 2), "passing_pct": round(self.passing_pct, 2),
                "mutation_score": round(self.mutation_score, 2)}


@dataclass
class CoverageReport:
    by_contract: dict[str, Counts] = field(default_factory=dict)
    total: Counts = field(default_factory=Counts)
    invalid_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def measure(ws: Workspace, loaded: list[LoadedContract], ledger: Ledger | None) -> CoverageReport:
    report = CoverageReport()
    stale_mutations = 0
    for lc in loaded:
        if lc.contract is None:
            report.invalid_files.append(lc.display)
            continue
        counts = Counts()
        assessment = assess(lc.contract, ws, ledger)
        for s in assessment.supports:
            counts.declared += 1
            resolved_test = s.kind in (BindingKind.NODE_ID, BindingKind.NAME) and s.unresolved is None
            if resolved_test or s.kind in (BindingKind.CMD, BindingKind.LIVE):
                counts.bound += 1
                counts.live += s.kind is BindingKind.LIVE
                counts.passing += s.fresh_pass
            m = assessment.mutations.get(s.falsifier.id) if resolved_test else None
            if m is not None and why_stale(m, s.falsifier, ws.digests) is not None:
                stale_mutations += 1  # a score for code that has changed since says nothing about it
                m = None
            if m is not None:
                counts.mutated += 1
                counts.inert += m.verdict is MutationVerdict.INERT
                counts.detected += m.detected
                counts.competent += m.competent
        report.by_contract[lc.contract.metadata.id] = counts
        report.total.add(counts)
    if stale_mutations:
        report.notes.append(f"{stale_mutations} stale mutation verdict(s) not counted in the mutation score "
                            "(run `pv mutate --changed`)")
    return report


def check_thresholds(report: CoverageReport, *, floor: int, min_bound: float | None, min_passing: float | None) -> None:
    """Record every threshold the report misses in ``report.problems``."""
    t = report.total
    if report.invalid_files:
        report.problems.append(f"{len(report.invalid_files)} contract file(s) do not validate and were not counted: "
                               + ", ".join(report.invalid_files))
    if t.declared < floor or t.bound < floor:
        report.problems.append(f"vacuity guard: the scan found {t.declared} declared and {t.bound} bound "
                               f"falsifier(s), fewer than the floor of {floor}; a broken scan must not pass")
    if min_bound is not None and t.bound_pct + 1e-9 < min_bound:
        report.problems.append(f"bound coverage {t.bound_pct:.1f}% ({t.bound}/{t.declared}) is below "
                               f"--min {min_bound:g}%")
    if min_passing is not None and t.passing_pct + 1e-9 < min_passing:
        report.problems.append(f"passing coverage {t.passing_pct:.1f}% ({t.passing}/{t.bound}) is below "
                               f"--min-passing {min_passing:g}%")


RATCHET_KEYS = ("declared", "bound", "passing", "bound_pct", "passing_pct", "mutation_score")
OPTIONAL_KEYS = ("mutation_score",)  # compared once a baseline records it (baselines from before pv mutate lack it)


def ratchet(report: CoverageReport, path: Path, *, update: bool = True) -> None:
    """Compare with the baseline at ``path``: any fall is a problem; a rise rewrites the baseline."""
    current = report.total.as_dict()
    if not path.exists():
        if update:
            _write_baseline(path, current)
            report.notes.append(f"ratchet baseline created at {path}; commit it")
        else:
            report.problems.append(f"ratchet file {path} does not exist")
        return
    try:
        baseline = json.loads(read_text(path, limit=RATCHET_LIMIT))
        if not isinstance(baseline, dict):
            raise ValueError("not a JSON object")
    except OSError as exc:
        report.problems.append(f"ratchet file {path} is unreadable ({exc.strerror}); restore it from git")
        return
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a 5000-digit number, nested too deep
        report.problems.append(f"ratchet file {path} is unreadable ({str(exc).splitlines()[0][:200]}); "
                               "restore it from git")
        return
    required = ("bound", "passing", "bound_pct", "passing_pct")
    compared = (*required, *(k for k in OPTIONAL_KEYS if k in baseline))
    # A baseline without finite numbers would let coverage fall unnoticed: NaN compares false with
    # everything, and -Infinity is beaten by any value.
    lacking = [k for k in compared if not _finite_number(baseline.get(k))]
    if lacking:
        report.problems.append(f"ratchet file {path} has no finite number for {', '.join(lacking)}; "
                               "restore it from git")
        return
    fell = []
    for key in compared:
        old = baseline[key]
        if current[key] + 1e-9 < old:
            fell.append(f"{key} {current[key]} < baseline {old}")
    if fell:
        report.problems.append(f"coverage fell below the ratchet {path}: " + "; ".join(fell))
        return
    improved = {k: current[k] for k in RATCHET_KEYS if current[k] != baseline.get(k)}
    if improved and update:
        _write_baseline(path, current)
        report.notes.append(f"ratchet raised in {path} ({', '.join(improved)}); commit it")


RATCHET_LIMIT = 1 << 20  # a baseline is five numbers


def _finite_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _write_baseline(path: Path, values: dict[str, float | int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({k: values[k] for k in RATCHET_KEYS}, indent=2) + "\n")
