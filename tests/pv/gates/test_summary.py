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
