"""Gate obligations: every applies_to (of an obligation or a falsifier) names an equation the contract defines."""

from __future__ import annotations

from tests.pv.conftest import Repo
from tests.pv.gates.conftest import gate, good


def test_known_equation_passes(repo: Repo) -> None:
    good(repo)
    assert gate(repo, "obligations").passed


def test_applies_to_unknown_equation(repo: Repo) -> None:
    data = good(repo)
    data["proof_obligations"][0]["applies_to"] = ["bund"]
    repo.contract(data)
    (diag,) = gate(repo, "obligations").diagnostics
    assert diag.key_path == "proof_obligations[0].applies_to[0]"
    assert diag.hint == "did you mean `bound`?"


def test_falsifier_applies_to_unknown_equation(repo: Repo) -> None:
    data = good(repo)
    data["falsification_tests"][0]["applies_to"] = ["bound", "bounds"]
    repo.contract(data)
    (diag,) = gate(repo, "obligations").diagnostics
    assert diag.key_path == "falsification_tests[0].applies_to[1]"
    assert diag.hint == "did you mean `bound`?"


def test_obligation_ids_are_unique(repo: Repo) -> None:
    data = good(repo)
    data["proof_obligations"] = [
        {"id": "DEMO-1", "type": "bound", "property": "x never exceeds y", "applies_to": ["bound"]},
        {"id": "DEMO-1", "type": "soundness", "property": "a refused input is reported"},
    ]
    repo.contract(data)
    (diag,) = gate(repo, "obligations").diagnostics
    assert diag.key_path == "proof_obligations[1].id" and "already used by proof_obligations[0]" in diag.message
