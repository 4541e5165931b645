"""The report model: everything ``pv report`` shows, gathered once, as plain data.

Templates only lay this out; they decide nothing. Every judgement (a falsifier's state, whether
a contract's claim holds, what the next status needs) comes from the same functions ``pv status``
and ``pv promote`` use, so the report can never disagree with the command line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pv import __version__
from pv.assessment import Support, assess
from pv.binding import BindingKind, parse_binding, resolve
from pv.diagnostics import Diagnostic
from pv.enums import Status
from pv.fileio import read_text
from pv.gitstate import RepoState
from pv.ledger import Ledger, LedgerEntry, LedgerError, Outcome, utc_now
from pv.loader import LoadedContract
from pv.models import Contract, FalsificationTest, ProofObligation
from pv.requirements import STATUS_RULES, next_status, requirements
from pv.site.runs import EvidenceRun, find_runs
from pv.testscan import FalsifiesMarker, TestFunction, TestIndex
from pv.workspace import Workspace


class State(StrEnum):
    """Where one falsifier stands, in the order a reader should look at them (worst first)."""

    FAIL = "fail"
    ERROR = "error"
    STALE = "stale"
    NOT_RUN = "not run"
    LIVE_NOT_RUN = "LIVE not run"
    SKIPPED = "skipped"
    NOT_BOUND = "not bound"
    PASS = "pass"

    @property
    def failing(self) -> bool:
        return self in (State.FAIL, State.ERROR)

    @property
    def css(self) -> str:
        return "state-" + self.value.lower().replace(" ", "-")

    @property
    def rank(self) -> int:
        return list(State).index(self)


STATE_HELP = {
    State.FAIL: "the bound test failed",
    State.ERROR: "the test could not run, or the binding does not resolve",
    State.STALE: "passed, but the code or test changed since",
    State.NOT_RUN: "bound to a test or command that has no verdict yet (run `pv verify`; --no-cmd skips commands)",
    State.LIVE_NOT_RUN: "a LIVE command never run with `pv verify --live`",
    State.SKIPPED: "the test was skipped (not a pass)",
    State.NOT_BOUND: "no `test:` binding yet",
    State.PASS: "passed at the current code",
}


def state_of(support: Support) -> State:
    if support.kind is BindingKind.UNBOUND:
        return State.NOT_BOUND
    if support.unresolved:
        return State.ERROR
    entry = support.entry
    if entry is None:
        return State.LIVE_NOT_RUN if support.kind is BindingKind.LIVE else State.NOT_RUN
    if entry.outcome is Outcome.FAIL:
        return State.FAIL
    if entry.outcome is Outcome.ERROR:
        return State.ERROR
    if entry.outcome is Outcome.LIVE_NOT_RUN:
        return State.LIVE_NOT_RUN
    if entry.outcome is Outcome.CMD_NOT_RUN:
        return State.NOT_RUN
    if entry.outcome is Outcome.NOT_BOUND:
        return State.NOT_BOUND
    if support.stale:
        return State.STALE
    return State.SKIPPED if entry.outcome is Outcome.SKIPPED else State.PASS


@dataclass(frozen=True)
class TestSource:
    """A bound test function's source, as the report shows it next to the falsifier."""

    function: TestFunction
    code: str

    @property
    def location(self) -> str:
        return f"{self.function.file}:{self.function.line}"


@dataclass
class FalsifierView:
    contract_id: str
    position: int
    falsifier: FalsificationTest
    support: Support
    state: State
    yaml_line: int | None = None
    source: TestSource | None = None
    obligations: list[int] = field(default_factory=list)  # indices into the contract's proof_obligations

    @property
    def id(self) -> str:
        return self.falsifier.id

    @property
    def entry(self) -> LedgerEntry | None:
        return self.support.entry

    @property
    def kind(self) -> BindingKind:
        return self.support.kind

    @property
    def test(self) -> TestFunction | None:
        return self.source.function if self.source else None

    @property
    def blocking_failure(self) -> bool:
        return self.state.failing and self.falsifier.ship_blocking

    @property
    def sort_key(self) -> tuple[int, int, str, int]:
        """Ship-blocking failures first, then by state (worst first), then by contract, in file order."""
        return (0 if self.blocking_failure else 1, self.state.rank, self.contract_id, self.position)


_NEED = re.compile(r"^(FALSIFY-[A-Z0-9-]+-\d{3}): (.+)$", re.S)


def group_needs(needs: list[str]) -> list[str]:
    """Fold "ID: reason" lines that share a reason into one line naming every id, in first-seen order.

    Ten "FALSIFY-X-00n: ledger verdict is stale: …" lines say one thing ten times; a reader
    needs it once, with the ids.
    """
    groups: dict[str, list[str]] = {}
    order: list[str] = []
    for need in needs:
        match = _NEED.match(need)
        key = match.group(2) if match else need
        if key not in groups:
            groups[key] = []
            order.append(key)
        if match:
            groups[key].append(match.group(1))
    out = []
    for key in order:
        ids = groups[key]
        if len(ids) > 1:
            shown = ", ".join(ids) if len(ids) <= 3 else f"{ids[0]} … {ids[-1]}"
            out.append(f"{len(ids)} falsifiers ({shown}): {key}")
        else:
            out.append(f"{ids[0]}: {key}" if ids else key)
    return out


@dataclass
class ObligationView:
    index: int
    obligation: ProofObligation
    falsifiers: list[FalsifierView]


@dataclass
class ContractView:
    loaded: LoadedContract
    contract: Contract
    falsifiers: list[FalsifierView]
    obligations: list[ObligationView]
    claim_gaps: list[str]
    next: Status | None
    next_needs: list[str]
    dependents: list[str] = field(default_factory=list)
    runs: list[EvidenceRun] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.contract.metadata.id

    @property
    def status(self) -> Status:
        return self.contract.metadata.status

    @property
    def claim_supported(self) -> bool:
        return not self.claim_gaps

    @property
    def gaps(self) -> list[str]:
        """What the claimed status lacks, one line per distinct reason."""
        return group_needs(self.claim_gaps)

    @property
    def needs(self) -> list[str]:
        """What the next status needs beyond the claim's own gaps (those are listed once, above)."""
        return group_needs([n for n in self.next_needs if n not in self.claim_gaps])

    @property
    def counts(self) -> list[tuple[State, int]]:
        """Falsifiers per state, worst first, zeros left out."""
        tally = Counter(f.state for f in self.falsifiers)
        return [(s, tally[s]) for s in State if tally[s]]

    @property
    def blocking_failures(self) -> list[FalsifierView]:
        return [f for f in self.falsifiers if f.blocking_failure]

    @property
    def unlinked(self) -> list[FalsifierView]:
        """Falsifiers that name no obligation's equation: shown apart so the matrix hides nothing."""
        return [f for f in self.falsifiers if not f.obligations]

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (0 if self.blocking_failures else 1, 0 if self.claim_gaps else 1, self.id)


@dataclass(frozen=True)
class Claim:
    """A test's ``@pytest.mark.falsifies(ID)`` and the falsifier it names (None: no contract declares it)."""

    marker: FalsifiesMarker
    falsifier: FalsifierView | None

    @property
    def bound_here(self) -> bool:
        """The contract binds the falsifier to this very test (or to a test inside the marked class/module)."""
        test = self.falsifier.test if self.falsifier else None
        if test is None or test.file != self.marker.file:
            return False
        target = self.marker.target
        return target == "<module>" or test.qualname == target or test.qualname.startswith(target + "::")


@dataclass
class Project:
    """The whole report: contracts (worst first), evidence, test claims and the repo state."""

    root: Path
    name: str
    contracts: list[ContractView]
    state: RepoState
    ledger: Ledger | None
    ledger_file: str
    ledger_problem: str | None
    generated_at: dt.datetime
    diagnostics: list[Diagnostic]
    markers: list[FalsifiesMarker]
    orphan_runs: list[EvidenceRun] = field(default_factory=list)  # evidence for no known contract
    pv_version: str = __version__

    @property
    def falsifiers(self) -> list[FalsifierView]:
        return [f for c in self.contracts for f in c.falsifiers]

    @property
    def counts(self) -> list[tuple[State, int]]:
        tally = Counter(f.state for f in self.falsifiers)
        return [(s, tally[s]) for s in State if tally[s]]

    def count(self, state: State) -> int:
        return sum(f.state is state for f in self.falsifiers)

    @property
    def stale(self) -> list[FalsifierView]:
        return [f for f in self.falsifiers if f.state is State.STALE]

    @property
    def blocking_failures(self) -> list[FalsifierView]:
        return sorted((f for f in self.falsifiers if f.blocking_failure), key=lambda f: f.sort_key)

    @property
    def attention(self) -> list[FalsifierView]:
        """What a reader should look at first: every falsifier that is not a fresh pass, worst first."""
        return sorted((f for f in self.falsifiers if f.state is not State.PASS), key=lambda f: f.sort_key)

    @property
    def failing(self) -> list[FalsifierView]:
        return [f for f in self.attention if f.state.failing]

    @property
    def unsettled(self) -> list[FalsifierView]:
        """Neither failing nor a fresh pass: stale, not run, skipped, unbound."""
        return [f for f in self.attention if not f.state.failing]

    @property
    def unsettled_summary(self) -> list[tuple[State, int, str]]:
        """(state, count, why) for the unsettled falsifiers, one row per distinct state and reason."""
        tally: Counter[tuple[State, str]] = Counter(
            (f.state, f.support.stale or STATE_HELP[f.state]) for f in self.unsettled)
        return [(state, n, why) for (state, why), n in sorted(tally.items(), key=lambda kv: (kv[0][0].rank, -kv[1]))]

    @property
    def unsupported(self) -> list[ContractView]:
        return [c for c in self.contracts if not c.claim_supported]

    @property
    def runs(self) -> list[EvidenceRun]:
        return [r for c in self.contracts for r in c.runs] + self.orphan_runs

    @property
    def latest_runs(self) -> list[EvidenceRun]:
        """Each contract's newest run that has metric series: the curves the overview shows."""
        return [next(r for r in c.runs if r.series) for c in self.contracts if any(r.series for r in c.runs)]

    def contract(self, contract_id: str) -> ContractView | None:
        return next((c for c in self.contracts if c.id == contract_id), None)

    def claims(self, falsifier_id: str) -> list[FalsifiesMarker]:
        return [m for m in self.markers if m.falsifier_id == falsifier_id]

    @property
    def claim_rows(self) -> list[Claim]:
        by_id = {f.id: f for f in self.falsifiers}
        return [Claim(m, by_id.get(m.falsifier_id)) for m in self.markers]


def build_project(ws: Workspace, loaded: list[LoadedContract]) -> Project:
    """Gather the report model for the ``loaded`` contracts of ``ws``. Reads files and git; runs nothing."""
    try:
        ledger, problem = ws.ledger, None
    except LedgerError as exc:
        ledger, problem = None, str(exc)
    runs = find_runs(ws.root, ws.evidence_dir)
    sources = _SourceCache(ws.root)
    views = [_contract_view(lc, lc.contract, ws, ledger, sources, runs.pop(lc.contract.metadata.id, []))
             for lc in loaded if lc.contract is not None]
    for view in views:
        view.dependents = sorted(v.id for v in views if view.id in v.contract.metadata.depends_on)
    return Project(
        root=ws.root, name=ws.root.resolve().name, contracts=sorted(views, key=lambda c: c.sort_key),
        state=ws.repo_state, ledger=ledger, ledger_file=ws.display(ws.ledger_file), ledger_problem=problem,
        generated_at=utc_now(), diagnostics=[d for lc in loaded for d in lc.diagnostics],
        markers=list(ws.test_index.markers), orphan_runs=[r for group in runs.values() for r in group],
    )


def _contract_view(lc: LoadedContract, contract: Contract, ws: Workspace, ledger: Ledger | None,
                   sources: _SourceCache, runs: list[EvidenceRun]) -> ContractView:
    assessment = assess(contract, ws, ledger)
    nxt = next_status(contract.metadata.status)
    falsifiers = []
    for i, support in enumerate(assessment.supports):
        ft = support.falsifier
        where = lc.positions.locate(["falsification_tests", i, "id"])
        obligations = [j for j, ob in enumerate(contract.proof_obligations)
                       if set(ob.applies_to) & set(ft.applies_to)]
        falsifiers.append(FalsifierView(contract.metadata.id, i, ft, support, state_of(support),
                                        where[0] if where else None, sources.get(_target(support, ws.test_index)),
                                        obligations))
    obligations = [ObligationView(j, ob, [f for f in falsifiers if j in f.obligations])
                   for j, ob in enumerate(contract.proof_obligations)]
    return ContractView(lc, contract, falsifiers, obligations,
                        claim_gaps=requirements(assessment, contract.metadata.status, ws), next=nxt,
                        next_needs=requirements(assessment, nxt, ws) if nxt else [], runs=runs)


def _target(support: Support, index: TestIndex) -> TestFunction | None:
    if support.kind not in (BindingKind.NODE_ID, BindingKind.NAME) or support.unresolved:
        return None
    return resolve(parse_binding(support.falsifier.test), index).target


class _SourceCache:
    """Test file lines, read once per file and only for files some falsifier is bound to."""

    def __init__(self, root: Path):
        self.root = root
        self.lines: dict[str, list[str] | None] = {}

    def get(self, fn: TestFunction | None) -> TestSource | None:
        if fn is None:
            return None
        if fn.file not in self.lines:
            try:
                self.lines[fn.file] = read_text(self.root / fn.file).splitlines()
            except (OSError, UnicodeDecodeError):
                self.lines[fn.file] = None
        lines = self.lines[fn.file]
        if lines is None or not fn.end_line:
            return TestSource(fn, "")
        start = fn.start_line or fn.line
        return TestSource(fn, "\n".join(lines[start - 1:fn.end_line]))


__all__ = ["STATE_HELP", "STATUS_RULES", "Claim", "ContractView", "FalsifierView", "ObligationView", "Project", "State",
           "build_project", "state_of"]
