"""Gate summary: a verification_summary that states counts states the true ones."""

from __future__ import annotations

from tests.pv.conftest import Repo, falsifier
from tests.pv.gates.conftest import gate, good


def test_true_counts_pass(repo: Repo) -> None:
    data = good(repo)
    data["verification_summary"] = {"falsifiers_total": 1, "falsifiers_bound": 1}
    repo.contract(data)
    assert gate(repo, "summary").passed


def test_stale_counts_fail(repo: Repo) -> None:
    data = good(repo)
    data["verification_summary"] = {"falsifiers_total": 1, "falsifiers_bound": 1}
    data["falsification_tests"].append(falsifier("FALSIFY-DEMO-002"))
    repo.contract(data)
    (diag,) = gate(repo, "summary").diagnostics
    assert diag.message == "falsifiers_total says 1, the contract has 2"
    assert diag.key_path == "verification_summary.falsifiers_total"


def test_reference_counts_are_checked_against_the_contract(repo: Repo) -> None:
    data = good(repo)  # one obligation, no kani harness, one bound falsifier
    data["verification_summary"] = {"total_obligations": 1, "proven": 0, "tested": 1}
    repo.contract(data)
    assert gate(repo, "summary").passed
    data["verification_summary"] = {"total_obligations": 2, "proven": 1, "tested": 3}
    repo.contract(data)
    found = {d.key_path: d.message for d in gate(repo, "summary").diagnostics}
    assert found["verification_summary.total_obligations"] == "total_obligations says 2, the contract has 1"
    assert "kani_harnesses name only 0 obligation(s): a proof needs a harness" in found["verification_summary.proven"]
    assert "only 1 proof obligation(s)" in found["verification_summary.tested"]


def test_tested_needs_a_bound_falsifier(repo: Repo) -> None:
    data = good(repo)
    del data["falsification_tests"][0]["test"]
    data["verification_summary"] = {"tested": 1}
    repo.contract(data)
    (diag,) = gate(repo, "summary").diagnostics
    assert diag.message == "tested says 1, but no falsifier is bound to a test or command"
