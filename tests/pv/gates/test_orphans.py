"""Gate orphans: no test claims a falsifier id that no contract declares."""

from __future__ import annotations

from pv.diagnostics import Severity
from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.gates.conftest import BOUND, DEMO_TEST, gate, good, run_gates


def test_markers_consider_every_repo_contract_when_linting_one(repo: Repo) -> None:
    good(repo)
    repo.contract(valid_contract("other-v1", falsifiers=[falsifier("FALSIFY-OTHER-001")]))
    repo.write("tests/test_other.py", 'import pytest\n\n@pytest.mark.falsifies("FALSIFY-OTHER-001")\n'
                                      "def test_x():\n    pass\n")
    results, _ = run_gates(repo, paths=[repo.root / "contracts" / "demo-v1.yaml"])
    assert results["orphans"].passed


def test_orphan_marker(repo: Repo) -> None:
    good(repo)
    repo.write("tests/test_orphan.py", 'import pytest\n\n@pytest.mark.falsifies("FALSIFY-DEMO-009")\n'
                                       "def test_x():\n    pass\n")
    repo.write("tests/test_module_mark.py", 'import pytest\npytestmark = [pytest.mark.falsifies("FALSIFY-GONE-001")]\n')
    results, _ = run_gates(repo)
    found = {(d.file, d.line): d for d in results["orphans"].diagnostics}
    assert set(found) == {("tests/test_orphan.py", 3), ("tests/test_module_mark.py", 2)}
    assert found[("tests/test_orphan.py", 3)].hint == "did you mean `FALSIFY-DEMO-001`?"


def test_a_contract_that_does_not_load_does_not_cascade_into_orphans(repo: Repo) -> None:
    """Issue 9 item 4: one schema typo must not turn every id the broken file declares into an "orphan"."""
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract("other-v1", falsifiers=[]))
    broken = valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)])
    broken["metadata"]["statuss"] = broken["metadata"].pop("status")
    repo.contract(broken)
    by_gate, _ = run_gates(repo, strict=False)
    (orphans,) = by_gate["orphans"].diagnostics
    assert orphans.severity is Severity.WARNING and by_gate["orphans"].passed
    assert orphans.message.startswith("result partial: contracts/demo-v1.yaml did not load")
    assert "no contract declares" not in orphans.message
    for name in ("falsifier-ids", "dependencies"):
        (note,) = by_gate[name].diagnostics
        assert note.severity is Severity.WARNING and "result partial" in note.message
    assert not by_gate["schema"].passed  # the real error is reported once, where it is


def test_an_unparsable_contract_silences_orphans_instead_of_guessing(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.write("contracts/demo-v1.yaml", "metadata: [unclosed\n")
    (note,) = gate(repo, "orphans").diagnostics
    assert "ids it declares are unknown and no test marker was called an orphan" in note.message


def test_orphans_are_still_found_next_to_a_broken_contract(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST.replace("FALSIFY-DEMO-001", "FALSIFY-GONE-001"))
    broken = valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)])
    broken["metadata"]["statuss"] = broken["metadata"].pop("status")
    repo.contract(broken)
    messages = [d.message for d in gate(repo, "orphans").diagnostics]
    assert any("FALSIFY-GONE-001, which no contract declares" in m for m in messages)
