"""`pv status`: the dashboard reads contracts and ledger, and says what the next status needs."""

from __future__ import annotations

import json

import pytest

from pv.cli import main
from pv.ledger import Ledger, Outcome, write_ledger
from tests.pv.conftest import Repo, falsifier, recorded, valid_contract

T = "falsifiers/test_demo.py"


@pytest.fixture
def demo(repo: Repo) -> Repo:
    repo.write(T, "def test_one():\n    assert True\n\ndef test_two():\n    assert True\n")
    repo.contract(valid_contract("demo-v1", status="FUNCTIONAL", falsifiers=[
        falsifier("FALSIFY-DEMO-001", f"{T}::test_one"), falsifier("FALSIFY-DEMO-002", f"{T}::test_two")]))
    repo.contract(valid_contract("draft-v1", falsifiers=[falsifier("FALSIFY-DRAFT-001", f"{T}::test_one")]))
    return repo


def _record(repo: Repo, **outcomes: Outcome) -> None:
    write_ledger(repo.root / ".pv" / "ledger.json", Ledger().merged([
        recorded(repo.root, fid.replace("_", "-"), o, reason="boom" if o is Outcome.FAIL else None)
        for fid, o in outcomes.items()]))


def status(repo: Repo, capsys) -> tuple[int, dict]:
    code = main(["status", "--root", str(repo.root), "--format", "json"])
    return code, {c["id"]: c for c in json.loads(capsys.readouterr().out)["contracts"]}


def test_unsupported_claim_and_next_steps(demo: Repo, capsys) -> None:
    _record(demo, FALSIFY_DEMO_001=Outcome.PASS, FALSIFY_DEMO_002=Outcome.FAIL)
    code, rows = status(demo, capsys)
    assert code == 1
    assert rows["demo-v1"]["outcomes"] == {"pass": 1, "fail": 1}
    assert rows["demo-v1"]["claim_supported"] is False
    assert rows["demo-v1"]["claim_gaps"] == ["FALSIFY-DEMO-002: fail in the ledger: boom"]
    assert rows["demo-v1"]["next"] == "ACTIVE_RUNTIME"
    assert rows["draft-v1"]["claim_supported"] is True and rows["draft-v1"]["next"] == "PROPOSED"
    assert rows["draft-v1"]["next_needs"] == []


def test_supported_claims_exit_zero_and_text_dashboard(demo: Repo, capsys) -> None:
    _record(demo, FALSIFY_DEMO_001=Outcome.PASS, FALSIFY_DEMO_002=Outcome.PASS)
    assert status(demo, capsys)[0] == 0
    assert main(["status", "--root", str(demo.root)]) == 0
    out = capsys.readouterr().out
    assert "FUNCTIONAL" in out and "2 declared: 2 pass" in out
    assert "ready for PROPOSED: pv promote contracts/draft-v1.yaml --to PROPOSED" in out
    assert "ACTIVE_RUNTIME still needs:" in out and "no LIVE falsifier" in out


def test_without_a_ledger_says_so(demo: Repo, capsys) -> None:
    assert main(["status", "--root", str(demo.root)]) == 1  # FUNCTIONAL cannot be supported without verdicts
    out = capsys.readouterr().out
    assert "no ledger yet: run `pv verify`" in out and "no verdict in the ledger" in out
