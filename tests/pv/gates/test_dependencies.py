"""Gate dependencies: depends_on names existing contracts, and the graph has no cycle."""

from __future__ import annotations

from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.gates.conftest import BOUND, DEMO_TEST, gate, good


def test_acyclic_dependencies_on_existing_contracts_pass(repo: Repo) -> None:
    good(repo, depends_on=["base-v1"])
    repo.contract(valid_contract("base-v1", falsifiers=[]))
    assert gate(repo, "dependencies").passed


def test_depends_on_unknown_contract(repo: Repo) -> None:
    good(repo, depends_on=["demo-v2"])
    (diag,) = gate(repo, "dependencies").diagnostics
    assert "unknown contract 'demo-v2'" in diag.message
    assert diag.hint == "did you mean `demo-v1`?"


def test_dependency_cycle(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract("a-v1", falsifiers=[], depends_on=["b-v1"]))
    repo.contract(valid_contract("b-v1", falsifiers=[], depends_on=["c-v1"]))
    repo.contract(valid_contract("c-v1", falsifiers=[], depends_on=["a-v1"]))
    repo.contract(valid_contract("d-v1", falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)], depends_on=["a-v1"]))
    result = gate(repo, "dependencies")
    cycles = {d.file: d.message for d in result.diagnostics}
    assert cycles["contracts/a-v1.yaml"] == "dependency cycle: a-v1 -> b-v1 -> c-v1 -> a-v1"
    assert "contracts/d-v1.yaml" not in cycles  # depends on a cycle, but is not part of one
