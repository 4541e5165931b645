"""Gate inert: a ship-blocking falsifier whose test killed no mutant (`pv mutate`: INERT) fails lint.

The verdicts here are written into the ledger directly; tests/pv/test_mutate.py makes them with
`pv mutate` on a real fixture.
"""

from __future__ import annotations

from pv.diagnostics import Severity
from pv.freshness import Digests, entry_digest
from pv.ledger import Ledger, MutationEntry, MutationVerdict, utc_now, write_ledger
from pv.loader import load_contract
from tests.pv.conftest import Repo, falsifier, recorded, valid_contract
from tests.pv.gates.conftest import BOUND, DEMO_TEST, gate

T = "falsifiers/test_demo.py"


def _setup(repo: Repo, *, ship_blocking: bool = True) -> None:
    repo.write(T, DEMO_TEST)
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND, ship_blocking=ship_blocking),
                                             falsifier("FALSIFY-DEMO-002", "LIVE: exit 0")]))


def _mutation(repo: Repo, verdict: str, *, inputs: dict | None = None) -> MutationEntry:
    lc = load_contract(repo.root / "contracts" / "demo-v1.yaml")
    assert lc.contract is not None
    ft = lc.contract.falsification_tests[0]
    return MutationEntry(falsifier_id=ft.id, contract_id="demo-v1", verdict=MutationVerdict(verdict),
                         reason="the test killed none of 3 mutants of its subject", killed=0, survived=3,
                         generated=3, entry_sha256=entry_digest(ft),
                         inputs=inputs if inputs is not None else Digests(repo.root).of([T]), recorded_at=utc_now())


def _ledger(repo: Repo, *mutations: MutationEntry) -> None:
    write_ledger(repo.root / ".pv" / "ledger.json",
                 Ledger().merged([recorded(repo.root, "FALSIFY-DEMO-001")]).with_mutations(list(mutations)))


def test_no_ledger_means_nothing_to_judge(repo: Repo) -> None:
    _setup(repo)
    assert gate(repo, "inert").diagnostics == []


def test_missing_verdict_is_a_warning_and_live_falsifiers_are_not_judged(repo: Repo) -> None:
    _setup(repo)
    _ledger(repo)
    result = gate(repo, "inert")
    (diag,) = result.diagnostics
    assert result.passed and diag.severity is Severity.WARNING
    assert "FALSIFY-DEMO-001 has no mutation verdict" in diag.message and "pv mutate -k FALSIFY-DEMO-001" in diag.hint


def test_inert_ship_blocking_is_an_error_advisory_a_warning(repo: Repo) -> None:
    _setup(repo)
    _ledger(repo, _mutation(repo, "INERT"))
    result = gate(repo, "inert")
    (diag,) = result.diagnostics
    assert not result.passed and diag.severity is Severity.ERROR and "FALSIFY-DEMO-001 is INERT" in diag.message
    assert diag.key_path == "falsification_tests[0].test"
    _setup(repo, ship_blocking=False)
    _ledger(repo, _mutation(repo, "INERT"))
    result = gate(repo, "inert")
    assert result.passed and [d.severity for d in result.diagnostics] == [Severity.WARNING]


def test_strong_passes_until_its_inputs_change(repo: Repo) -> None:
    _setup(repo)
    _ledger(repo, _mutation(repo, "STRONG"))
    assert gate(repo, "inert").diagnostics == []
    repo.write(T, DEMO_TEST + "\n# edited\n")
    (diag,) = gate(repo, "inert").diagnostics
    assert diag.severity is Severity.WARNING and "mutation verdict (STRONG) is stale" in diag.message
