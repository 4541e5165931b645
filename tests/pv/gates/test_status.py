"""Gate status: the claimed status has what it statically requires (the ledger half is in test_ledger.py)."""

from __future__ import annotations

import pytest

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


def test_active_runtime_needs_a_live_falsifier_and_an_empty_folder_is_not_one(repo: Repo) -> None:
    good(repo, status="ACTIVE_RUNTIME")
    assert any("no LIVE falsifier" in d.message for d in gate(repo, "status").diagnostics)
    (repo.root / "evidence" / "demo-v1" / "20260101T000000Z").mkdir(parents=True)  # a hand-made folder
    assert any("no LIVE falsifier" in d.message for d in gate(repo, "status").diagnostics)


@pytest.mark.parametrize("status", ["PARTIAL_ALGORITHM_LEVEL", "FUNCTIONAL"])
def test_live_falsifiers_alone_cannot_carry_a_test_level_status(repo: Repo, status: str) -> None:
    repo.contract(valid_contract(status=status, falsifiers=[falsifier("FALSIFY-DEMO-001", "LIVE: exit 1")]))
    (diag,) = gate(repo, "status").diagnostics
    assert "no falsifier is bound to a non-LIVE test (LIVE falsifiers alone cannot carry" in diag.message
