"""Gate falsifier-ids: falsifier ids are unique across contracts."""

from __future__ import annotations

from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.gates.conftest import BOUND, gate, good


def test_distinct_ids_in_two_files_pass(repo: Repo) -> None:
    good(repo)
    repo.contract(valid_contract("second-v1", falsifiers=[falsifier("FALSIFY-DEMO-002")]))
    assert gate(repo, "falsifier-ids").passed


def test_duplicate_ids_across_two_files(repo: Repo) -> None:
    good(repo)
    repo.contract(valid_contract("second-v1", falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)]))
    result = gate(repo, "falsifier-ids")
    assert not result.passed
    (diag,) = result.diagnostics
    assert diag.file == "contracts/second-v1.yaml"
    assert "already declared in contracts/demo-v1.yaml" in diag.message
    assert diag.line is not None
