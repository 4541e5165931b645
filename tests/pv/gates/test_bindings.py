"""Gate test-binding: every falsifier's test: names a test function that exists (AST only)."""

from __future__ import annotations

import os

from pv.diagnostics import Severity
from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.gates.conftest import BOUND, DEMO_TEST, gate


def test_binding_forms_resolve(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.write("tests/test_other.py", "def test_only_here():\n    pass\n")
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", BOUND),
        falsifier("FALSIFY-DEMO-002", "falsifiers/test_demo.py::TestGroup::test_in_class"),
        falsifier("FALSIFY-DEMO-003", "only_here"),
        falsifier("FALSIFY-DEMO-004", "test_only_here"),
        falsifier("FALSIFY-DEMO-005", "falsifiers/test_demo.py::test_bound_holds[param-1]"),
        falsifier("FALSIFY-DEMO-006", "LIVE: apr pretrain --steps 1"),
        falsifier("FALSIFY-DEMO-007"),
    ]))
    result = gate(repo, "test-binding")
    assert result.passed, [d.one_line() for d in result.diagnostics]


def test_drift_gets_a_did_you_mean(repo: Repo) -> None:
    repo.write("falsifiers/test_preflight.py",
               "def test_preflight_qwen_vocab_passes_with_qwen_target():\n    assert True\n")
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", "preflight_qwen_vocab_passes_with_qwen_init")]))
    result = gate(repo, "test-binding")
    (diag,) = result.diagnostics
    assert not result.passed
    assert diag.severity is Severity.ERROR
    assert diag.hint == "did you mean `preflight_qwen_vocab_passes_with_qwen_target`?"
    assert diag.key_path == "falsification_tests[0].test"


def test_unresolved_binding_is_a_warning_without_strict(repo: Repo) -> None:
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_gone.py::test_x")]))
    result = gate(repo, "test-binding", strict=False)
    assert result.passed and result.warnings == 1
    assert not gate(repo, "test-binding", strict=True).passed


def test_non_test_functions_and_escaping_paths_do_not_resolve(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", "helper_not_a_test"),
        falsifier("FALSIFY-DEMO-002", "../outside/test_x.py::test_x"),
        falsifier("FALSIFY-DEMO-003", "not a binding at all"),
    ]))
    messages = [d.message for d in gate(repo, "test-binding").diagnostics]
    assert len(messages) == 3
    assert "leaves the repository" in messages[1]
    assert "is not a node id" in messages[2]


def test_ambiguous_bare_name(repo: Repo) -> None:
    repo.write("tests/test_a.py", "def test_same():\n    pass\n")
    repo.write("falsifiers/test_b.py", "def test_same():\n    pass\n")
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "test_same")]))
    (diag,) = gate(repo, "test-binding").diagnostics
    assert "ambiguous" in diag.message


def test_a_symlinked_test_leading_out_is_refused_like_dotdot_and_reported(repo: Repo, tmp_path_factory) -> None:
    """Issue 16 item 9: `../x.py` was refused but a symlink to the same file was accepted (and run)."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "test_x.py").write_text("def test_x():\n    pass\n")
    os.symlink(outside / "test_x.py", repo.root / "falsifiers" / "test_x.py")
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", "falsifiers/test_x.py::test_x"),
        falsifier("FALSIFY-DEMO-002", "test_x"),
    ]))
    result = gate(repo, "test-binding")
    assert not result.passed
    why = f"'falsifiers/test_x.py' leads outside the repository through a symlink (to {outside / 'test_x.py'})"
    assert [(d.file, d.line is not None, d.message) for d in result.diagnostics] == [
        ("falsifiers/test_x.py", False, f"not scanned for tests: {why}"),
        ("contracts/demo-v1.yaml", True, f"FALSIFY-DEMO-001: test file 'falsifiers/test_x.py' was refused: {why}"),
        ("contracts/demo-v1.yaml", True, "FALSIFY-DEMO-002: no test function named 'test_x' (or 'test_test_x') in "
                                         "falsifiers/ or tests/"),
    ]
    assert all(d.hint for d in result.diagnostics)


def test_a_dotdot_that_stays_inside_is_judged_by_where_it_leads(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", "tests/../falsifiers/test_demo.py::test_bound_holds"),
        falsifier("FALSIFY-DEMO-002", "falsifiers/../../falsifiers/test_demo.py::test_bound_holds"),
    ]))
    (diag,) = gate(repo, "test-binding").diagnostics
    assert diag.key_path == "falsification_tests[1].test" and "leaves the repository" in diag.message
