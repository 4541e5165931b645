"""`pv verify` runs bound tests in one pytest process and maps every outcome back to its falsifier."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from pv.cli import main
from pv.fileio import sha256_file
from pv.ledger import Outcome, read_ledger
from pv.render import dumps
from pv.render.verify import to_junit
from pv.verify import VerifyReport, verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

TESTS = '''
import pytest

def test_passes():
    assert sum([1, 2]) == 3

def test_fails():
    assert 1 + 1 == 3, "arithmetic broke"

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_setup_error(broken):
    pass

def test_skipped():
    pytest.skip("needs a GPU")

@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n != 2

@pytest.mark.parametrize("n", [1, 2])
def test_param_all_pass(n):
    assert n > 0

class TestGroup:
    def test_method(self):
        assert True

def test_by_bare_name():
    assert True
'''

F = "falsifiers/test_demo.py"
BINDINGS = {
    "FALSIFY-DEMO-001": (f"{F}::test_passes", Outcome.PASS),
    "FALSIFY-DEMO-002": (f"{F}::test_fails", Outcome.FAIL),
    "FALSIFY-DEMO-003": (f"{F}::test_setup_error", Outcome.ERROR),
    "FALSIFY-DEMO-004": (f"{F}::test_skipped", Outcome.SKIPPED),
    "FALSIFY-DEMO-005": (f"{F}::test_param", Outcome.FAIL),
    "FALSIFY-DEMO-006": (f"{F}::test_param_all_pass", Outcome.PASS),
    "FALSIFY-DEMO-007": (f"{F}::TestGroup::test_method", Outcome.PASS),
    "FALSIFY-DEMO-008": ("by_bare_name", Outcome.PASS),
    "FALSIFY-DEMO-009": (None, Outcome.NOT_BOUND),
    "FALSIFY-DEMO-010": ("LIVE: touch live-ran.txt", Outcome.LIVE_NOT_RUN),
    "FALSIFY-DEMO-011": (f"{F}::test_pases", Outcome.ERROR),  # drifted name
}


def make_repo(root: Path) -> Repo:
    repo = Repo(root)
    repo.write(F, TESTS)
    fals = [falsifier(fid, test, ship_blocking=fid != "FALSIFY-DEMO-005") for fid, (test, _) in BINDINGS.items()]
    repo.contract(valid_contract("demo-v1", falsifiers=fals))
    return repo


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, VerifyReport]:
    repo = make_repo(tmp_path_factory.mktemp("verify"))
    return repo, verify(Workspace(repo.root), sorted((repo.root / "contracts").glob("*.yaml")))


def by_id(report: VerifyReport) -> dict[str, object]:
    return {v.entry.falsifier_id: v.entry for v in report.verdicts}


def test_every_outcome_maps_back_to_its_falsifier(ran) -> None:
    _, report = ran
    got = {fid: e.outcome for fid, e in by_id(report).items()}
    assert got == {fid: expected for fid, (_, expected) in BINDINGS.items()}


def test_reasons_say_what_happened(ran) -> None:
    entries = by_id(ran[1])
    assert "arithmetic broke" in entries["FALSIFY-DEMO-002"].reason
    assert "setup" in entries["FALSIFY-DEMO-003"].reason and "fixture exploded" in entries["FALSIFY-DEMO-003"].reason
    assert entries["FALSIFY-DEMO-004"].reason == "needs a GPU"
    assert entries["FALSIFY-DEMO-005"].reason.startswith("1/3 cases: test_param[2]")
    assert "did you mean" in entries["FALSIFY-DEMO-011"].reason and "test_passes" in entries["FALSIFY-DEMO-011"].reason
    assert "--live" in entries["FALSIFY-DEMO-010"].reason


def test_live_command_is_not_run_without_live(ran) -> None:
    repo, _ = ran
    assert not (repo.root / "live-ran.txt").exists()


def test_bare_names_resolve_to_node_ids(ran) -> None:
    assert by_id(ran[1])["FALSIFY-DEMO-008"].node_id == f"{F}::test_by_bare_name"


def test_ok_ignores_advisory_failures_but_not_ship_blocking_ones(ran) -> None:
    report = ran[1]
    blocking = {v.entry.falsifier_id for c in report.contracts for v in c.blocking_failures}
    assert blocking == {"FALSIFY-DEMO-002", "FALSIFY-DEMO-003", "FALSIFY-DEMO-011"}  # 005 is advisory
    assert report.ok is False


def test_ledger_records_hashes_node_ids_and_time(ran) -> None:
    repo, _ = ran
    ledger = read_ledger(repo.root / ".pv" / "ledger.json")
    assert ledger is not None and set(ledger.entries) == set(BINDINGS)
    entry = ledger.entries["FALSIFY-DEMO-001"]
    assert entry.node_id == f"{F}::test_passes"
    assert entry.inputs is not None and entry.inputs[F] == sha256_file(repo.root / F)
    assert entry.entry_sha256 is not None and "contracts/demo-v1.yaml" not in entry.inputs  # its entry, not the file
    assert all(not p.startswith("/") for p in entry.inputs)  # repo-relative: a clone reproduces it
    assert entry.recorded_at.tzinfo is not None and entry.duration_s >= 0
    assert not list((repo.root / ".pv").glob("*.tmp"))  # atomic write left no temp file


def test_sarif_output_validates_against_the_official_schema(ran) -> None:
    doc = json.loads(dumps(ran[1], "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    kinds = {r["ruleId"]: (r["kind"], r["level"]) for r in doc["runs"][0]["results"]}
    assert kinds["FALSIFY-DEMO-001"] == ("pass", "none")
    assert kinds["FALSIFY-DEMO-002"] == ("fail", "error")
    assert kinds["FALSIFY-DEMO-005"] == ("fail", "warning")  # advisory
    assert doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] > 1


def test_lint_and_validate_sarif_also_validate(repo: Repo) -> None:
    from pv.lint import lint

    repo.contract(valid_contract("bad-v1", falsifiers=[falsifier("FALSIFY-BAD-001", "nope_missing")]))
    report = lint(Workspace(repo.root), sorted((repo.root / "contracts").glob("*.yaml")), strict_test_binding=True)
    assert report.diagnostics
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(dumps(report, "sarif")))


def test_junit_output_is_read_by_a_real_junit_reader(ran, tmp_path: Path) -> None:
    path = tmp_path / "pv.xml"
    path.write_text(to_junit(ran[1]))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == ["demo-v1"]
    cases = {c.name: c for c in suites[0]}
    assert set(cases) == set(BINDINGS)
    assert cases["FALSIFY-DEMO-001"].is_passed
    assert isinstance(cases["FALSIFY-DEMO-002"].result[0], Failure)
    assert isinstance(cases["FALSIFY-DEMO-003"].result[0], Error)
    assert isinstance(cases["FALSIFY-DEMO-004"].result[0], Skipped)
    assert suites[0].tests == len(BINDINGS) and suites[0].failures == 2 and suites[0].errors == 2


def test_json_and_github_formats(ran) -> None:
    payload = json.loads(dumps(ran[1], "json"))
    contract = payload["contracts"][0]
    assert payload["ok"] is False and contract["passed"] == 4 and contract["total"] == len(BINDINGS)
    assert set(contract["ship_blocking_failures"]) == {"FALSIFY-DEMO-002", "FALSIFY-DEMO-003", "FALSIFY-DEMO-011"}
    lines = dumps(ran[1], "github").splitlines()
    assert any(line.startswith("::error file=contracts/demo-v1.yaml,line=") and "FALSIFY-DEMO-002 fail" in line
               for line in lines)
    assert any(line.startswith("::warning ") and "FALSIFY-DEMO-005" in line for line in lines)


def test_cli_text_table_junit_and_exit_code(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write(F, TESTS)
    repo.contract(valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", f"{F}::test_passes"),
        falsifier("FALSIFY-DEMO-002", f"{F}::test_fails"),
        falsifier("FALSIFY-DEMO-003", f"{F}::test_param_all_pass"),
    ]))
    junit = repo.root / "out" / "pv.xml"
    code = main(["verify", "--root", str(repo.root), "-k", "FALSIFY-DEMO-00[13]", "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2/2 falsifiers passed" in out and "FALSIFY-DEMO-002" not in out
    assert len(next(iter(JUnitXml.fromfile(str(junit))))) == 2
    assert main(["verify", "--root", str(repo.root), "-k", "FALSIFY-NOPE-*"]) == 2
    assert "no falsifier matches -k FALSIFY-NOPE-*" in capsys.readouterr().err


def test_collection_error_fails_only_the_falsifiers_of_that_file(repo: Repo) -> None:
    repo.write("falsifiers/test_ok.py", "def test_ok():\n    assert True\n")
    repo.write("falsifiers/test_broken.py", "import no_such_module_pv\n\ndef test_x():\n    pass\n")
    repo.contract(valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", "falsifiers/test_ok.py::test_ok"),
        falsifier("FALSIFY-DEMO-002", "falsifiers/test_broken.py::test_x"),
    ]))
    entries = by_id(verify(Workspace(repo.root), [repo.root / "contracts" / "demo-v1.yaml"]))
    assert entries["FALSIFY-DEMO-001"].outcome is Outcome.PASS
    assert entries["FALSIFY-DEMO-002"].outcome is Outcome.ERROR
    assert "no_such_module_pv" in entries["FALSIFY-DEMO-002"].reason


def test_a_test_that_stops_the_session_midway_is_not_a_pass(repo: Repo) -> None:
    # pytest.exit() (or a KeyboardInterrupt) inside the test: only its setup phase ever reports
    repo.write("falsifiers/test_exit.py", "import pytest\n\ndef test_exits():\n    pytest.exit('stop')\n")
    repo.contract(valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", "falsifiers/test_exit.py::test_exits"),
    ]))
    entry = by_id(verify(Workspace(repo.root), [repo.root / "contracts" / "demo-v1.yaml"]))["FALSIFY-DEMO-001"]
    assert entry.outcome is Outcome.ERROR and "never reported" in entry.reason


def test_plain_pytest_with_pv_ledger_fills_the_ledger(repo: Repo) -> None:
    repo.write(F, TESTS)
    repo.contract(valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", f"{F}::test_passes"),
        falsifier("FALSIFY-DEMO-002", f"{F}::test_fails"),
        falsifier("FALSIFY-DEMO-003", "falsifiers/test_other.py::test_not_run"),
    ]))
    repo.write("falsifiers/test_other.py", "def test_not_run():\n    assert True\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pv-ledger",
                           f"{F}::test_passes", f"{F}::test_fails"], cwd=repo.root, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # test_fails fails, as it should
    assert "recorded 2 falsifier verdict(s) (1 failing)" in proc.stdout
    ledger = read_ledger(repo.root / ".pv" / "ledger.json")
    assert ledger is not None
    assert {k: e.outcome for k, e in ledger.entries.items()} == {"FALSIFY-DEMO-001": Outcome.PASS,
                                                                 "FALSIFY-DEMO-002": Outcome.FAIL}
    assert ledger.entries["FALSIFY-DEMO-001"].source == "pytest --pv-ledger"


def test_a_contract_that_does_not_load_is_an_input_error_and_nothing_runs(
        repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 16: exit 2 (not 1, which means a ship-blocking failure) and no "0/0 passed" summary."""
    repo.write(F, TESTS)
    good = valid_contract("demo-v1", falsifiers=[falsifier("FALSIFY-DEMO-001", f"{F}::test_passes")])
    bad = valid_contract("typo-v1", falsifiers=[falsifier("FALSIFY-TYPO-001", f"{F}::test_passes")])
    bad["metadata"]["statuss"] = bad["metadata"].pop("status")
    repo.contract(good)
    repo.contract(bad)
    assert main(["verify", "--root", str(repo.root)]) == 2
    captured = capsys.readouterr()
    assert "falsifiers passed" not in captured.out and "0/0" not in captured.out + captured.err
    assert "contracts/typo-v1.yaml" in captured.err and "nothing was run" in captured.err
    assert "`statuss` is not a key; did you mean `status`, which is missing?" in captured.err
    assert not (repo.root / ".pv" / "ledger.json").exists()
    assert main(["verify", "--root", str(repo.root), str(repo.root / "contracts" / "demo-v1.yaml")]) == 0


def test_a_symlinked_test_leading_out_is_not_run(repo: Repo, tmp_path_factory) -> None:
    """Issue 16 item 9: a bound test reached through a symlink that leaves the repo must not run."""
    outside = tmp_path_factory.mktemp("outside")
    marker = outside / "ran.txt"
    (outside / "test_x.py").write_text(f"def test_x():\n    open({str(marker)!r}, 'w').close()\n")
    (repo.root / "falsifiers" / "test_x.py").symlink_to(outside / "test_x.py")
    path = repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_x.py::test_x")]))
    (verdict,) = verify(Workspace(repo.root), [path]).verdicts
    assert verdict.entry.outcome is Outcome.ERROR
    assert verdict.entry.reason.startswith("binding does not resolve: test file 'falsifiers/test_x.py' was refused: "
                                           "'falsifiers/test_x.py' leads outside the repository through a symlink")
    assert not marker.exists()


HANGS = '''
import pathlib, subprocess, time

import pytest

def test_quick():
    assert True

@pytest.mark.parametrize("case", ["fast", "hangs"])
def test_cases(case):
    if case == "hangs":
        child = subprocess.Popen(["sleep", "120"])
        pathlib.Path("grandchild.pid").write_text(str(child.pid))
        time.sleep(120)

def test_after():
    assert True
'''


def test_a_pytest_timeout_keeps_earlier_passes_and_kills_the_tests_grandchildren(repo: Repo) -> None:
    from tests.pv.test_procrun import read_pid, wait_gone

    repo.write("falsifiers/test_hang.py", HANGS)
    repo.contract(valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", "falsifiers/test_hang.py::test_quick"),
        falsifier("FALSIFY-DEMO-002", "falsifiers/test_hang.py::test_cases"),
        falsifier("FALSIFY-DEMO-003", "falsifiers/test_hang.py::test_after"),
    ]))
    start = time.monotonic()
    report = verify(Workspace(repo.root), [repo.root / "contracts" / "demo-v1.yaml"], timeout_s=15)
    assert time.monotonic() - start < 60, "verify waited for the hung test's grandchild"
    entries = by_id(report)
    assert entries["FALSIFY-DEMO-001"].outcome is Outcome.PASS and not entries["FALSIFY-DEMO-001"].timed_out
    hung, after = entries["FALSIFY-DEMO-002"], entries["FALSIFY-DEMO-003"]
    # test_cases[fast] passed before the hang; the falsifier still is not a pass
    assert hung.outcome is Outcome.ERROR and hung.timed_out
    assert "while this test (test_cases[hangs]) was running" in hung.reason
    assert after.outcome is Outcome.ERROR and after.timed_out and "before it reached this test" in after.reason
    assert report.pytest_exit is None and "timed out after 15 s" in report.pytest_output
    assert wait_gone(read_pid(repo.root / "grandchild.pid")), "the test's grandchild outlived the timeout"
