"""Gate kani: every Kani harness names an obligation id, an obligation's property or an equation."""

from __future__ import annotations

from tests.pv.conftest import Repo
from tests.pv.gates.conftest import gate, good


def with_harnesses(repo: Repo, *harnesses: dict) -> None:
    data = good(repo)
    data["proof_obligations"] = [
        {"id": "DEMO-BND-001", "type": "bound", "property": "x never exceeds y", "applies_to": ["bound"]},
        {"id": "DEMO-TERM-002", "type": "termination", "property": "the check terminates"},
    ]
    data["kani_harnesses"] = list(harnesses)
    repo.contract(data)


def test_harnesses_naming_an_id_a_property_or_an_equation_pass(repo: Repo) -> None:
    with_harnesses(repo, {"id": "KH-1", "obligation": "DEMO-BND-001", "bound": 8},
                   {"id": "KH-2", "obligation": "the check terminates"},
                   {"id": "KH-3", "obligation": "bound", "strategy": "bounded_int"})
    assert gate(repo, "kani").passed


def test_a_harness_naming_nothing_fails_with_the_nearest_name(repo: Repo) -> None:
    with_harnesses(repo, {"id": "KH-1", "obligation": "DEMO-BND-01"})
    (diag,) = gate(repo, "kani").diagnostics
    assert diag.key_path == "kani_harnesses[0].obligation" and diag.line is not None
    assert "KH-1: obligation 'DEMO-BND-01' names no proof obligation or equation" in diag.message
    assert diag.hint == "did you mean `DEMO-BND-001`?"


def test_harness_ids_are_unique(repo: Repo) -> None:
    with_harnesses(repo, {"id": "KH-1", "obligation": "bound"}, {"id": "KH-1", "obligation": "DEMO-TERM-002"})
    (diag,) = gate(repo, "kani").diagnostics
    assert diag.key_path == "kani_harnesses[1].id" and "already used by kani_harnesses[0]" in diag.message
