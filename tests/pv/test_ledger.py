"""The verdict ledger: atomic, mergeable, and honest about which code a verdict is about."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pv.diagnostics import Severity
from pv.gitstate import RepoState, repo_state
from pv.ledger import (
    Ledger,
    LedgerEntry,
    LedgerError,
    Outcome,
    read_ledger,
    render_ledger,
    update_ledger,
    utc_now,
    write_ledger,
)
from pv.lint import lint
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, recorded, valid_contract


def entry(fid: str = "FALSIFY-DEMO-001", outcome: Outcome = Outcome.PASS, **kw) -> LedgerEntry:
    return LedgerEntry(falsifier_id=fid, contract_id="demo-v1", outcome=outcome, recorded_at=utc_now(), **kw)


def test_write_read_round_trip_and_merge(tmp_path: Path) -> None:
    path = tmp_path / ".pv" / "ledger.json"
    assert read_ledger(path) is None
    update_ledger(path, [entry("FALSIFY-DEMO-001"), entry("FALSIFY-DEMO-002", Outcome.FAIL, reason="boom")])
    update_ledger(path, [entry("FALSIFY-DEMO-002", Outcome.PASS)])
    ledger = read_ledger(path)
    assert {k: e.outcome for k, e in ledger.entries.items()} == {"FALSIFY-DEMO-001": Outcome.PASS,
                                                                 "FALSIFY-DEMO-002": Outcome.PASS}
    assert [p.name for p in path.parent.iterdir()] == ["ledger.json"]


def test_live_not_run_does_not_erase_a_recorded_live_verdict() -> None:
    live = entry(outcome=Outcome.PASS, binding="LIVE: run", evidence="evidence/demo-v1/20260101T000000Z")
    merged = Ledger().merged([live]).merged([entry(outcome=Outcome.LIVE_NOT_RUN, binding="LIVE: run")])
    assert merged.entries["FALSIFY-DEMO-001"].outcome is Outcome.PASS
    changed = merged.merged([entry(outcome=Outcome.LIVE_NOT_RUN, binding="LIVE: run --other")])
    assert changed.entries["FALSIFY-DEMO-001"].outcome is Outcome.LIVE_NOT_RUN  # a new command: old evidence void


def test_corrupt_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text('{"entries": {"X": {"outcome": "maybe"}}}')
    with pytest.raises(LedgerError, match=r"not a pv ledger .*delete it and run `pv verify` again"):
        read_ledger(path)
    update_ledger(path, [entry()])  # recovery: a fresh ledger replaces the unreadable one
    assert set(read_ledger(path).entries) == {"FALSIFY-DEMO-001"}


def test_the_file_is_stable_and_merge_friendly(tmp_path: Path) -> None:
    """Sorted keys, no whole-file timestamp, no absolute paths: two runs with the same verdicts write the
    same bytes except each entry's own informational fields."""
    one = Ledger().merged([entry("FALSIFY-DEMO-002", inputs={"b.py": "2" * 64, "a.py": None}),
                           entry("FALSIFY-DEMO-001", inputs={})])
    text = render_ledger(one)
    assert text.index("FALSIFY-DEMO-001") < text.index("FALSIFY-DEMO-002")
    assert text.index('"a.py"') < text.index('"b.py"')
    assert "updated_at" not in text and str(tmp_path) not in text
    assert render_ledger(Ledger.model_validate_json(text)) == text  # a read-write round trip changes nothing


def test_an_old_ledger_without_input_digests_is_never_fresh(repo: Repo) -> None:
    from pv.freshness import Digests, why_stale
    from pv.loader import load_contract

    _functional(repo)
    old = recorded(repo.root, "FALSIFY-DEMO-001", inputs=None)
    old = old.model_copy(update={"inputs": None})
    ft = load_contract(repo.root / "contracts" / "demo-v1.yaml").contract.falsification_tests[0]
    assert "older pv" in why_stale(old, ft, Digests(repo.root))
    assert why_stale(recorded(repo.root, "FALSIFY-DEMO-001"), ft, Digests(repo.root)) is None


def test_a_non_utf8_ledger_is_a_clear_error_and_still_recoverable(tmp_path: Path) -> None:
    """Issue 16 item 1: UnicodeDecodeError escaped read_ledger and every command exited 70."""
    path = tmp_path / "ledger.json"
    path.write_bytes(b'{"entries": {}}\xff')
    with pytest.raises(LedgerError) as info:
        read_ledger(path)
    assert str(info.value) == (f"{path}: not a pv ledger (not UTF-8: byte 15 is 0xff); "
                               "delete it and run `pv verify` again")
    update_ledger(path, [entry()])
    assert set(read_ledger(path).entries) == {"FALSIFY-DEMO-001"}


def test_a_ledger_path_that_is_a_folder_is_refused_for_reading_and_writing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.mkdir()
    message = f"{path}: the ledger path is a directory, not a file; remove it, or pass --ledger FILE"
    with pytest.raises(LedgerError) as info:
        read_ledger(path)
    assert str(info.value) == message
    with pytest.raises(LedgerError) as info:
        update_ledger(path, [entry()])
    assert str(info.value) == message
    assert path.is_dir() and not any(path.parent.glob(".ledger.json.*"))  # no temp file left behind


@pytest.mark.parametrize("command", ["status", "coverage", "verify", "promote"])
@pytest.mark.parametrize("setup", ["not-utf8", "directory"])
def test_ledger_problems_exit_2_naming_the_file_and_the_fix(repo: Repo, command: str, setup: str) -> None:
    marker = repo.root / "test-ran.txt"
    repo.write("falsifiers/test_demo.py", f"def test_one():\n    open({str(marker)!r}, 'w').close()\n")
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_demo.py::test_one")]))
    ledger = repo.root / ".pv" / "ledger.json"
    if setup == "directory":
        ledger.mkdir(parents=True)
    else:
        repo.write(".pv/ledger.json", "")
        ledger.write_bytes(b"\xff\xfe{}")
    args = [str(repo.root / "contracts" / "demo-v1.yaml"), "--to", "PROPOSED"] if command == "promote" else []
    proc = subprocess.run([sys.executable, "-m", "pv.cli", command, *args, "--root", str(repo.root)],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    if setup == "not-utf8" and command == "verify":  # verify replaces an unreadable ledger file, as documented
        assert proc.returncode == 0 and marker.exists(), proc.stderr
        return
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(ledger) in proc.stderr
    assert ("delete it and run `pv verify` again" if setup == "not-utf8" else "remove it, or pass --ledger FILE") \
        in proc.stderr
    assert not marker.exists()  # verify refuses before running a single test


def test_repo_state_tracks_commit_and_uncommitted_changes(tmp_path: Path) -> None:
    assert repo_state(tmp_path) == RepoState()  # not a git checkout: both unknown, never invented
    git = ["git", "-c", "user.email=pv@example.invalid", "-c", "user.name=pv"]
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "a.py"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "a"], cwd=tmp_path, check=True)
    clean = repo_state(tmp_path)
    assert clean.commit and len(clean.commit) == 40 and clean.worktree == "clean"
    (tmp_path / "a.py").write_text("x = 2\n")
    dirty = repo_state(tmp_path)
    assert dirty.commit == clean.commit and dirty.worktree not in (None, "clean")
    (tmp_path / ".pv").mkdir()
    (tmp_path / ".pv" / "ledger.json").write_text("{}")  # pv's own output never counts as a change
    assert repo_state(tmp_path) == dirty


def _functional(repo: Repo) -> None:
    repo.write("falsifiers/test_demo.py", "def test_one():\n    assert True\n")
    repo.contract(valid_contract("demo-v1", status="FUNCTIONAL",
                                 falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_demo.py::test_one")]))


def _status_gate(repo: Repo):
    report = lint(Workspace(repo.root), sorted((repo.root / "contracts").glob("*.yaml")), strict_test_binding=True)
    return next(r for r in report.results if r.name == "status")


def test_lint_warns_when_the_claim_outruns_the_ledger(repo: Repo) -> None:
    _functional(repo)
    assert _status_gate(repo).diagnostics == []  # no ledger yet: lint stays static
    write_ledger(repo.root / ".pv" / "ledger.json", Ledger().merged([
        recorded(repo.root, "FALSIFY-DEMO-001", Outcome.FAIL, reason="boom")]))
    gate = _status_gate(repo)
    assert gate.passed  # a warning, not an error
    [diag] = gate.diagnostics
    assert diag.severity is Severity.WARNING and diag.code == "status-ledger"
    assert "claimed status FUNCTIONAL exceeds what the ledger supports: FALSIFY-DEMO-001: fail in the ledger: boom" \
        in diag.message
    assert diag.line == 4  # metadata.status


def test_lint_is_quiet_when_the_ledger_supports_the_claim(repo: Repo) -> None:
    _functional(repo)
    write_ledger(repo.root / ".pv" / "ledger.json", Ledger().merged([recorded(repo.root, "FALSIFY-DEMO-001")]))
    assert _status_gate(repo).diagnostics == []


def test_a_rerun_that_ran_nothing_new_leaves_the_file_byte_identical() -> None:
    """CI re-runs `pv verify --changed` on a fresh clone: a ledger that did not change must not show as modified."""
    first = Ledger().merged([entry(outcome=Outcome.LIVE_NOT_RUN, binding="LIVE: x", entry_sha256="e", reason="r")])
    later = entry(outcome=Outcome.LIVE_NOT_RUN, binding="LIVE: x", entry_sha256="e", reason="r")
    later = later.model_copy(update={"recorded_at": later.recorded_at.replace(year=2030)})
    assert render_ledger(first.merged([later])) == render_ledger(first)
    changed = later.model_copy(update={"entry_sha256": "f"})  # the contract entry changed: record it
    assert render_ledger(first.merged([changed])) != render_ledger(first)
