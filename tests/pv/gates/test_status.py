"""Gate status: the claimed status has what it statically requires (the ledger half is in test_ledger.py)."""

from __future__ import annotations

from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.gates.conftest import BOUND, DEMO_TEST, gate, good


def test_functional_with_every_falsifier_bound_passes(repo: Repo) -> None:
    good(repo, status="FUNCTIONAL")
    assert gate(repo, "status").passed  # no ledger yet: only the static half is judged


def test_functional_needs_every_falsifier_bound(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract(status="FUNCTIONAL", falsifiers=[
        falsifier("FALSIFY-DEMO-001", BOUND), falsifier("FALSIFY-DEMO-002")]))
    (diag,) = gate(repo, "status").diagnostics
    assert "unbound falsifiers: FALSIFY-DEMO-002" in diag.message
    assert diag.key_path == "metadata.status"


def test_active_runtime_needs_evidence(repo: Repo) -> None:
    good(repo, status="ACTIVE_RUNTIME")
    result = gate(repo, "status")
    assert any("no evidence recorded under evidence/demo-v1/" in d.message for d in result.diagnostics)
    (repo.root / "evidence" / "demo-v1" / "20260101T000000Z").mkdir(parents=True)
    assert not any("no evidence" in d.message for d in gate(repo, "status").diagnostics)
