"""Each lint gate passes a good contract and fails a bad one, with a located, actionable message."""

from __future__ import annotations

import copy

from pv.diagnostics import Severity
from pv.lint import lint
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


def _run(repo: Repo, *, strict: bool = True, paths=None):
    files = paths if paths is not None else sorted((repo.root / "contracts").glob("*.yaml"))
    report = lint(Workspace(repo.root), files, strict_test_binding=strict)
    return {r.name: r for r in report.results}, report


def _gate(repo: Repo, name: str, **kw):
    results, _ = _run(repo, **kw)
    return results[name]


def _good(repo: Repo, cid: str = "demo-v1", **meta) -> dict:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    data = valid_contract(cid, falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)], **meta)
    repo.contract(data)
    return data


def test_good_contract_passes_every_gate(repo: Repo) -> None:
    _good(repo)
    results, report = _run(repo)
    assert report.passed, [d.one_line() for d in report.diagnostics]
    assert len(results) == 10


def test_schema_gate_fails_on_invalid_file(repo: Repo) -> None:
    _good(repo)
    repo.write("contracts/broken-v1.yaml", "metadata: [\n")
    gate = _gate(repo, "schema")
    assert not gate.passed
    assert gate.diagnostics[0].file == "contracts/broken-v1.yaml"


def test_duplicate_ids_across_two_files(repo: Repo) -> None:
    _good(repo)
    repo.contract(valid_contract("second-v1", falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)]))
    gate = _gate(repo, "falsifier-ids")
    assert not gate.passed
    (diag,) = gate.diagnostics
    assert diag.file == "contracts/second-v1.yaml"
    assert "already declared in contracts/demo-v1.yaml" in diag.message
    assert diag.line is not None


def test_changelog_version_mismatch(repo: Repo) -> None:
    _good(repo, version="1.2.0")
    gate = _gate(repo, "changelog")
    assert not gate.passed
    assert "metadata.version 1.2.0 != newest changelog entry 1.1.0" in gate.diagnostics[0].message


def test_changelog_must_increase_and_dates_not_go_backwards(repo: Repo) -> None:
    data = _good(repo)
    log = data["metadata"]["changelog"]
    log[1]["date"] = "2025-12-01"
    log.append({"version": "1.1.0", "date": "2026-03-01", "change": "again"})
    data["metadata"]["updated"] = "2026-03-01"
    repo.contract(data)
    messages = [d.message for d in _gate(repo, "changelog").diagnostics]
    assert any("does not increase over 1.1.0" in m for m in messages)
    assert any("is before the previous entry's" in m for m in messages)


def test_prerelease_sorts_before_release(repo: Repo) -> None:
    data = _good(repo)
    data["metadata"]["changelog"].insert(1, {"version": "1.1.0-rc.1", "date": "2026-01-15", "change": "rc"})
    repo.contract(data)
    assert _gate(repo, "changelog").passed


def test_applies_to_unknown_equation(repo: Repo) -> None:
    data = _good(repo)
    data["proof_obligations"][0]["applies_to"] = ["bund"]
    repo.contract(data)
    (diag,) = _gate(repo, "obligations").diagnostics
    assert diag.key_path == "proof_obligations[0].applies_to[0]"
    assert diag.hint == "did you mean `bound`?"


def test_depends_on_unknown_contract(repo: Repo) -> None:
    _good(repo, depends_on=["demo-v2"])
    (diag,) = _gate(repo, "dependencies").diagnostics
    assert "unknown contract 'demo-v2'" in diag.message
    assert diag.hint == "did you mean `demo-v1`?"


def test_dependency_cycle(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract("a-v1", falsifiers=[], depends_on=["b-v1"]))
    repo.contract(valid_contract("b-v1", falsifiers=[], depends_on=["c-v1"]))
    repo.contract(valid_contract("c-v1", falsifiers=[], depends_on=["a-v1"]))
    repo.contract(valid_contract("d-v1", falsifiers=[falsifier("FALSIFY-DEMO-001", BOUND)], depends_on=["a-v1"]))
    gate = _gate(repo, "dependencies")
    cycles = {d.file: d.message for d in gate.diagnostics}
    assert cycles["contracts/a-v1.yaml"] == "dependency cycle: a-v1 -> b-v1 -> c-v1 -> a-v1"
    assert "contracts/d-v1.yaml" not in cycles  # depends on a cycle, but is not part of one


def test_status_functional_needs_every_falsifier_bound(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract(status="FUNCTIONAL", falsifiers=[
        falsifier("FALSIFY-DEMO-001", BOUND), falsifier("FALSIFY-DEMO-002")]))
    (diag,) = _gate(repo, "status").diagnostics
    assert "unbound falsifiers: FALSIFY-DEMO-002" in diag.message
    assert diag.key_path == "metadata.status"


def test_status_active_runtime_needs_evidence(repo: Repo) -> None:
    _good(repo, status="ACTIVE_RUNTIME")
    gate = _gate(repo, "status")
    assert any("no evidence recorded under evidence/demo-v1/" in d.message for d in gate.diagnostics)
    (repo.root / "evidence" / "demo-v1" / "20260101T000000Z").mkdir(parents=True)
    assert not any("no evidence" in d.message for d in _gate(repo, "status").diagnostics)


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
    gate = _gate(repo, "test-binding")
    assert gate.passed, [d.one_line() for d in gate.diagnostics]


def test_drift_gets_a_did_you_mean(repo: Repo) -> None:
    repo.write("falsifiers/test_preflight.py",
               "def test_preflight_qwen_vocab_passes_with_qwen_target():\n    assert True\n")
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", "preflight_qwen_vocab_passes_with_qwen_init")]))
    gate = _gate(repo, "test-binding")
    (diag,) = gate.diagnostics
    assert not gate.passed
    assert diag.severity is Severity.ERROR
    assert diag.hint == "did you mean `preflight_qwen_vocab_passes_with_qwen_target`?"
    assert diag.key_path == "falsification_tests[0].test"


def test_unresolved_binding_is_a_warning_without_strict(repo: Repo) -> None:
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_gone.py::test_x")]))
    gate = _gate(repo, "test-binding", strict=False)
    assert gate.passed and gate.warnings == 1
    assert not _gate(repo, "test-binding", strict=True).passed


def test_non_test_functions_and_escaping_paths_do_not_resolve(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", DEMO_TEST)
    repo.contract(valid_contract(falsifiers=[
        falsifier("FALSIFY-DEMO-001", "helper_not_a_test"),
        falsifier("FALSIFY-DEMO-002", "../outside/test_x.py::test_x"),
        falsifier("FALSIFY-DEMO-003", "not a binding at all"),
    ]))
    messages = [d.message for d in _gate(repo, "test-binding").diagnostics]
    assert len(messages) == 3
    assert "leaves the repository" in messages[1]
    assert "is not a node id" in messages[2]


def test_ambiguous_bare_name(repo: Repo) -> None:
    repo.write("tests/test_a.py", "def test_same():\n    pass\n")
    repo.write("falsifiers/test_b.py", "def test_same():\n    pass\n")
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "test_same")]))
    (diag,) = _gate(repo, "test-binding").diagnostics
    assert "ambiguous" in diag.message


def test_orphan_marker(repo: Repo) -> None:
    _good(repo)
    repo.write("tests/test_orphan.py", 'import pytest\n\n@pytest.mark.falsifies("FALSIFY-DEMO-009")\n'
                                       "def test_x():\n    pass\n")
    repo.write("tests/test_module_mark.py", 'import pytest\npytestmark = [pytest.mark.falsifies("FALSIFY-GONE-001")]\n')
    gate = _gate(repo, "orphans")
    found = {(d.file, d.line): d for d in gate.diagnostics}
    assert set(found) == {("tests/test_orphan.py", 3), ("tests/test_module_mark.py", 2)}
    assert found[("tests/test_orphan.py", 3)].hint == "did you mean `FALSIFY-DEMO-001`?"


def test_orphans_consider_every_repo_contract_when_linting_one(repo: Repo) -> None:
    _good(repo)
    other = valid_contract("other-v1", falsifiers=[falsifier("FALSIFY-OTHER-001")])
    repo.contract(other)
    repo.write("tests/test_other.py", 'import pytest\n\n@pytest.mark.falsifies("FALSIFY-OTHER-001")\n'
                                      "def test_x():\n    pass\n")
    results, _ = _run(repo, paths=[repo.root / "contracts" / "demo-v1.yaml"])
    assert results["orphans"].passed


def test_references(repo: Repo) -> None:
    repo.write("pkg/mod.py", "def real():\n    pass\nCONST = 1\n")
    data = _good(repo)
    ok = ["pkg/mod.py", "pkg/mod.py::real", "pkg/mod.py::CONST", "Some paper, arXiv:2407.10671",
          "https://example.org/x.py"]
    data["metadata"]["references"] = ok
    repo.contract(data)
    assert _gate(repo, "references").passed
    bad = copy.deepcopy(data)
    bad["metadata"]["references"] = ["pkg/missing.py", "pkg/mod.py::gone", "../etc/passwd.txt"]
    repo.contract(bad)
    messages = [d.message for d in _gate(repo, "references").diagnostics]
    assert messages == [
        "referenced file 'pkg/missing.py' does not exist",
        "pkg/mod.py defines no top-level 'gone'",
        "reference '../etc/passwd.txt' leaves the repository",
    ]


def test_verification_summary_counts(repo: Repo) -> None:
    data = _good(repo)
    data["verification_summary"] = {"falsifiers_total": 1, "falsifiers_bound": 1}
    repo.contract(data)
    assert _gate(repo, "summary").passed
    data["falsification_tests"].append(falsifier("FALSIFY-DEMO-002"))
    repo.contract(data)
    (diag,) = _gate(repo, "summary").diagnostics
    assert diag.message == "falsifiers_total says 1, the contract has 2"
    assert diag.key_path == "verification_summary.falsifiers_total"
