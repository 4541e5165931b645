"""`pv coverage`: bound and passing ratios, a vacuity floor that makes an empty scan fail, and a ratchet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pv.cli import main
from pv.ledger import Ledger, MutationEntry, MutationVerdict, utc_now, write_ledger
from tests.pv.conftest import Repo, falsifier, no_hang, recorded, valid_contract

T = "falsifiers/test_demo.py"


def cov(repo: Repo, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["coverage", "--root", str(repo.root), "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def demo(repo: Repo) -> Repo:
    repo.write(T, "def test_one():\n    assert True\n\ndef test_two():\n    assert True\n")
    repo.contract(valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", f"{T}::test_one"),
        falsifier("FALSIFY-DEMO-002", f"{T}::test_two"),
        falsifier("FALSIFY-DEMO-003", "LIVE: python train.py"),
        falsifier("FALSIFY-DEMO-004", f"{T}::test_drifted_name"),  # declared but does not resolve
        falsifier("FALSIFY-DEMO-005"),
    ]))
    return repo


def test_ratios_count_resolving_bindings_only(demo: Repo, capsys) -> None:
    code, out = cov(demo, capsys=capsys)
    assert code == 0
    assert out["total"] == {"declared": 5, "bound": 3, "live": 1, "passing": 0, "bound_pct": 60.0, "passing_pct": 0.0,
                            "mutated": 0, "inert": 0, "detected": 0, "competent": 0, "mutation_score": 0.0}
    assert "no ledger: passing coverage is 0 until `pv verify` runs" in out["notes"]


def test_passing_counts_fresh_passes_from_the_ledger(demo: Repo, capsys) -> None:
    stale = recorded(demo.root, "FALSIFY-DEMO-002")
    write_ledger(demo.root / ".pv" / "ledger.json", Ledger().merged([
        recorded(demo.root, "FALSIFY-DEMO-001"),
        stale.model_copy(update={"inputs": {T: "0" * 64}}),  # recorded from another version of the test file
    ]))
    code, out = cov(demo, "--min-passing", "50", capsys=capsys)
    assert out["total"]["passing"] == 1 and out["total"]["passing_pct"] == pytest.approx(33.33)
    assert code == 1 and out["problems"] == ["passing coverage 33.3% (1/3) is below --min-passing 50%"]


@pytest.mark.parametrize("setup", ["no contracts folder", "empty folder", "no falsifiers", "none bound"])
def test_empty_scan_fails_the_vacuity_guard(repo: Repo, setup: str, capsys) -> None:
    if setup == "no contracts folder":
        (repo.root / "contracts").rmdir()
    elif setup == "no falsifiers":
        repo.contract(valid_contract("demo-v1", falsifiers=[]))
    elif setup == "none bound":
        repo.contract(valid_contract("demo-v1", falsifiers=[falsifier("FALSIFY-DEMO-001")]))
    code, out = cov(repo, "--min", "0", capsys=capsys)
    assert code == 1
    assert any(p.startswith("vacuity guard: the scan found") for p in out["problems"]), out


def test_floor_and_min(demo: Repo, capsys) -> None:
    assert cov(demo, "--floor", "3", "--min", "60", capsys=capsys)[0] == 0
    code, out = cov(demo, "--floor", "4", "--min", "61", capsys=capsys)
    assert code == 1
    assert out["problems"] == [
        "vacuity guard: the scan found 5 declared and 3 bound falsifier(s), fewer than the floor of 4; "
        "a broken scan must not pass",
        "bound coverage 60.0% (3/5) is below --min 61%"]
    assert main(["coverage", "--root", str(demo.root), "--floor", "0"]) == 2


def test_ratchet_is_created_raised_and_never_lowered(demo: Repo, tmp_path: Path, capsys) -> None:
    baseline = tmp_path / "coverage-baseline.json"
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    assert code == 0 and json.loads(baseline.read_text())["bound"] == 3
    contract = demo.root / "contracts" / "demo-v1.yaml"
    text = contract.read_text()
    contract.write_text(text.replace("test_drifted_name", "test_one"))  # bind one more
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    assert code == 0 and json.loads(baseline.read_text())["bound"] == 4 and "ratchet raised" in out["notes"][0]
    contract.write_text(text)  # back to 3 bound: below the baseline
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    assert code == 1 and "coverage fell below the ratchet" in out["problems"][0] and "bound 3 < baseline 4" in \
        out["problems"][0]
    assert json.loads(baseline.read_text())["bound"] == 4  # a fall never rewrites the baseline


def test_a_ratchet_without_numbers_fails_instead_of_letting_coverage_fall(demo: Repo, tmp_path: Path,
                                                                          capsys) -> None:
    baseline = tmp_path / "coverage-baseline.json"
    for broken in ("{}", '{"bound": "4", "passing": 0, "bound_pct": 80, "passing_pct": 0}'):
        baseline.write_text(broken)
        code, out = cov(demo, "--ratchet", str(baseline), "--no-update", capsys=capsys)
        assert code == 1 and "has no finite number for" in out["problems"][0], broken
        assert baseline.read_text() == broken


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_ratchet_baseline_is_refused_not_trusted(demo: Repo, tmp_path: Path, value: str,
                                                               capsys) -> None:
    """Issue 16 item 7: `current < NaN` is never true, so a NaN baseline let coverage fall forever."""
    baseline = tmp_path / "coverage-baseline.json"
    broken = f'{{"declared": 5, "bound": {value}, "passing": 0, "bound_pct": 60.0, "passing_pct": 0.0}}'
    baseline.write_text(broken)
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    assert code == 1 and out["problems"] == [
        f"ratchet file {baseline} has no finite number for bound; restore it from git"]
    assert baseline.read_text() == broken  # neither trusted nor silently "raised" over


@pytest.mark.parametrize("setup", ["directory", "fifo", "not-utf8"])
def test_an_unreadable_ratchet_file_is_a_problem_not_a_traceback(demo: Repo, tmp_path: Path, setup: str,
                                                                 capsys) -> None:
    baseline = tmp_path / "coverage-baseline.json"
    if setup == "directory":
        baseline.mkdir()
    elif setup == "fifo":
        os.mkfifo(baseline)
    else:
        baseline.write_bytes(b'{"bound": 4\xff}')
    code, out = no_hang(lambda: cov(demo, "--ratchet", str(baseline), capsys=capsys), fifos=[baseline])
    assert code == 1 and f"ratchet file {baseline} is unreadable" in out["problems"][0]


@pytest.mark.parametrize("flag", ["--min", "--min-passing"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_non_finite_thresholds_are_usage_errors(demo: Repo, flag: str, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["coverage", "--root", str(demo.root), f"{flag}={value}"])
    assert exc.value.code == 2 and f"{value!r} is not a finite number" in capsys.readouterr().err


def _mutation(repo: Repo, fid: str, verdict: str, killed: int, survived: int, timed_out: int = 0) -> MutationEntry:
    """A fresh mutation verdict: recorded from the test file as it is now."""
    base = recorded(repo.root, fid)
    return MutationEntry(falsifier_id=fid, contract_id="demo-v1", verdict=MutationVerdict(verdict), killed=killed,
                         survived=survived, timed_out=timed_out, generated=killed + survived + timed_out,
                         entry_sha256=base.entry_sha256, inputs=base.inputs, recorded_at=utc_now())


def test_mutation_score_per_contract_and_its_ratchet(demo: Repo, tmp_path: Path, capsys) -> None:
    ledger_file = demo.root / ".pv" / "ledger.json"
    write_ledger(ledger_file, Ledger().with_mutations([
        _mutation(demo, "FALSIFY-DEMO-001", "STRONG", 2, 1, timed_out=1),
        _mutation(demo, "FALSIFY-DEMO-002", "INERT", 0, 2)]))
    baseline = tmp_path / "coverage-baseline.json"
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    t = out["total"]
    # detected = killed + timed out (3) of 6 competent mutants; DEMO-002 is INERT
    assert (t["mutated"], t["inert"], t["detected"], t["competent"], t["mutation_score"]) == (2, 1, 3, 6, 50.0)
    assert out["contracts"]["demo-v1"]["mutation_score"] == 50.0
    assert code == 0 and json.loads(baseline.read_text())["mutation_score"] == 50.0
    write_ledger(ledger_file, Ledger().with_mutations([_mutation(demo, "FALSIFY-DEMO-001", "STRONG", 1, 3),
                                                       _mutation(demo, "FALSIFY-DEMO-002", "INERT", 0, 2)]))
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    assert code == 1 and "mutation_score 16.67 < baseline 50.0" in out["problems"][0]
    # a baseline from before pv mutate has no mutation_score: nothing to compare, and no failure
    baseline.write_text('{"declared": 5, "bound": 3, "passing": 0, "bound_pct": 60.0, "passing_pct": 0.0}')
    code, out = cov(demo, "--ratchet", str(baseline), capsys=capsys)
    assert code == 0 and json.loads(baseline.read_text())["mutation_score"] == 16.67
    # verdicts reached from another version of the test file say nothing about this one: not counted
    demo.write(T, (demo.root / T).read_text() + "\n# edited\n")
    code, out = cov(demo, capsys=capsys)
    assert out["total"]["mutated"] == 0 and out["total"]["mutation_score"] == 0.0
    assert "2 stale mutation verdict(s) not counted" in out["notes"][0]


def test_text_output(demo: Repo, capsys) -> None:
    assert main(["coverage", "--root", str(demo.root), "--min", "90"]) == 1
    out = capsys.readouterr().out
    assert "TOTAL" in out and "60.0" in out and "FAIL: bound coverage 60.0% (3/5) is below --min 90%" in out
