"""Shared by the per-gate tests: a demo test file, a contract that passes every gate, and gate runners."""

from __future__ import annotations

from pv.lint import GateResult, LintReport, lint
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract

BOUND = "falsifiers/test_demo.py::test_bound_holds"
DEMO_TEST = '''
import pytest

@pytest.mark.falsifies("FALSIFY-DEMO-001")
def test_bound_holds():
    assert 1 <= 2

class TestGroup:
    def test_in_class(self):
        assert True

def helper_not_a_test():
    pass
'''


def run_gates(repo: Repo, *, strict: bool = True, paths=None) -> tuple[dict[str, GateResult], LintReport]:
    files = paths if paths is not None else sorted((repo.root / "contracts").glob("*.yaml"))
    report = lint(Workspace(repo.root), files, strict_test_binding=strict)
    return {r.name: r for r in report.results}, report


def gate(repo: Repo, name: str, **kw) -> GateResult:
    results, _ = run_gates(repo, **kw)
    return results[name]


def good(repo: Repo, cid: str = "demo-v1", **meta) -> dict:
    """Write the demo test file and a contract bound to it that passes every gate; return the contract."""
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    data = valid_contract(cid, falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)], **meta)
    repo.contract(data)
    return data
