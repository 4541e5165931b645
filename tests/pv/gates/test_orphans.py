"""Gate orphans: no test claims a falsifier id that no contract declares."""

from __future__ import annotations

from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.gates.conftest import good, run_gates


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
