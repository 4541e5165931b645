"""No status is reachable vacuously: every rung above PROPOSED needs a verdict that could have failed.

Each case below is a way the old rules let a claim be empty: LIVE falsifiers that never ran, an
empty or hand-made evidence folder, a contract with no LIVE falsifier at all, changelog entries
that counted nothing. The last test is the issue's "fresh clone" check on the shipped contracts.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pv.cli import main
from pv.enums import Status
from pv.ledger import Ledger, Outcome, read_ledger, write_ledger
from pv.loader import load_contract
from pv.promote import promote
from pv.verify import verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, recorded, valid_contract

ROOT = Path(__file__).resolve().parents[2]
UNIT = "falsifiers/test_unit.py"
PY = shlex.quote(sys.executable)
EMIT = "import json, sys\njson.dump({'ids_equal': 1}, open(sys.argv[1], 'w'))\n"


@pytest.fixture
def git_repo(repo: Repo) -> Repo:
    repo.write(UNIT, "def test_unit():\n    assert 1 + 1 == 2\n")
    repo.write("emit.py", EMIT)
    repo.write(".gitignore", "/m.json\n")
    repo.commit_all("start")
    return repo


def _live(fid: str, *, ship_blocking: bool = True, command: str = f"{PY} emit.py m.json") -> dict:
    return falsifier(fid, f"LIVE: {command}", metrics_file="m.json", check="ids_equal == 1",
                     ship_blocking=ship_blocking)


@pytest.mark.parametrize("target", [Status.PARTIAL_ALGORITHM_LEVEL, Status.FUNCTIONAL])
def test_a_live_only_contract_never_reaches_a_test_level_status(git_repo: Repo, target: Status) -> None:
    # its only falsifier is a LIVE command that has never run (and would exit 1)
    path = git_repo.contract(valid_contract("live-v1", falsifiers=[_live("FALSIFY-LV-001", command="exit 1")]))
    verify(Workspace(git_repo.root), [path])  # records live-not-run
    missing = promote(Workspace(git_repo.root), path, target, dry_run=True).missing
    assert any("no falsifier is bound to a non-LIVE test (LIVE falsifiers alone cannot carry" in m
               and "FALSIFY-LV-001" in m for m in missing), missing


@pytest.mark.parametrize("empty_folder", [False, True])
def test_active_runtime_without_a_live_falsifier_is_refused_even_with_an_evidence_folder(
        git_repo: Repo, empty_folder: bool) -> None:
    path = git_repo.contract(valid_contract("unit-v1", status="FUNCTIONAL",
                                            falsifiers=[falsifier("FALSIFY-U-001", f"{UNIT}::test_unit")]))
    verify(Workspace(git_repo.root), [path])
    if empty_folder:
        (git_repo.root / "evidence" / "unit-v1" / "x").mkdir(parents=True)
    result = promote(Workspace(git_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True)
    assert result.missing == ["no LIVE falsifier: ACTIVE_RUNTIME needs at least one `LIVE:` falsifier with a fresh "
                              "pass from `pv verify --live` and committed evidence"]


@pytest.mark.parametrize("empty_folder", [False, True])
def test_active_runtime_lists_every_unrun_live_falsifier_advisory_ones_too(git_repo: Repo, empty_folder: bool) -> None:
    path = git_repo.contract(valid_contract("mixed-v1", status="FUNCTIONAL", falsifiers=[
        falsifier("FALSIFY-M-001", f"{UNIT}::test_unit"),
        _live("FALSIFY-M-002", ship_blocking=False), _live("FALSIFY-M-003", ship_blocking=False)]))
    verify(Workspace(git_repo.root), [path])  # without --live
    if empty_folder:
        (git_repo.root / "evidence" / "mixed-v1" / "x").mkdir(parents=True)
    result = promote(Workspace(git_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True)
    assert [m.split(":")[0] for m in result.missing] == ["FALSIFY-M-002", "FALSIFY-M-003"]
    assert all("live-not-run in the ledger" in m and "use `pv verify --live`" in m for m in result.missing)


def test_a_hand_made_evidence_folder_never_counts(git_repo: Repo) -> None:
    path = git_repo.contract(valid_contract("mixed-v1", status="FUNCTIONAL", falsifiers=[
        falsifier("FALSIFY-M-001", f"{UNIT}::test_unit"), _live("FALSIFY-M-002")]))
    verify(Workspace(git_repo.root), [path])
    # someone writes a plausible record.json by hand, commits it, and points the ledger at it
    folder = git_repo.root / "evidence" / "mixed-v1" / "20260101T000000Z"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({
        "contract_id": "mixed-v1", "contract_file": "contracts/mixed-v1.yaml", "started_at": "2026-01-01T00:00:00Z",
        "runs": [{"id": "FALSIFY-M-002", "command": f"{PY} emit.py m.json", "check": "ids_equal == 1",
                  "outcome": "pass", "metrics": {"ids_equal": 1}}]}))
    ledger = read_ledger(git_repo.root / ".pv" / "ledger.json")
    forged = recorded(git_repo.root, "FALSIFY-M-002", Outcome.PASS, inputs=[],
                      evidence="evidence/mixed-v1/20260101T000000Z", evidence_sha256="0" * 64)
    write_ledger(git_repo.root / ".pv" / "ledger.json", Ledger(entries={**ledger.entries, "FALSIFY-M-002": forged}))
    git_repo.commit_all("forged evidence")
    missing = promote(Workspace(git_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True).missing
    assert missing == ["FALSIFY-M-002: evidence/mixed-v1/20260101T000000Z/record.json is not the record "
                       "`pv verify --live` wrote (its sha256 differs from the ledger's)"]


def test_the_ladder_climbed_without_commits_in_between_names_what_it_counted(
        git_repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    path = git_repo.contract(valid_contract("mixed-v1", falsifiers=[
        falsifier("FALSIFY-M-001", f"{UNIT}::test_unit"), _live("FALSIFY-M-002", ship_blocking=False)]))
    root = ["--root", str(git_repo.root)]
    assert main(["verify", *root, "--live", "--no-progress"]) == 0
    for target in ("PROPOSED", "PARTIAL_ALGORITHM_LEVEL", "FUNCTIONAL"):  # no commit, no re-verify in between
        assert main(["promote", str(path), "--to", target, *root]) == 0, capsys.readouterr().out
    refused = promote(Workspace(git_repo.root), path, Status.ACTIVE_RUNTIME)
    assert refused.missing == [f"FALSIFY-M-002: {refused.missing[0].split(': ', 1)[1]}"]
    assert "is not tracked by git" in refused.missing[0]  # evidence must be committed with the code
    git_repo.git("add", "evidence")
    assert main(["promote", str(path), "--to", "ACTIVE_RUNTIME", *root]) == 0
    assert main(["status", *root]) == 0  # the claim is supported right after promoting
    log = load_contract(path).contract.metadata.changelog
    assert log[-2].change.startswith("Status PARTIAL_ALGORITHM_LEVEL -> FUNCTIONAL (pv promote): counted 1 of 1 "
                                     "non-LIVE falsifiers with a fresh pass (2 declared) in .pv/ledger.json, "
                                     "inputs digest ")
    evidence = read_ledger(git_repo.root / ".pv" / "ledger.json").entries["FALSIFY-M-002"].evidence
    assert "counted 1 of 1 non-LIVE falsifiers with a fresh pass and 1 of 1 LIVE falsifiers with a fresh pass and " \
           "evidence (2 declared)" in log[-1].change and log[-1].change.endswith(f"LIVE evidence: {evidence}.")
    assert not any("not a git checkout" in e.change for e in log)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of this repository's HEAD, as a new user gets it."""
    where = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(where)], check=True)
    return where


@pytest.mark.parametrize("empty_folder", [False, True])
def test_in_a_fresh_clone_the_shipped_contracts_without_live_evidence_stay_below_active_runtime(
        clone: Path, empty_folder: bool, capsys: pytest.CaptureFixture[str]) -> None:
    if empty_folder:
        for cid in ("apr-pretrain-init-finetune-v1", "apr-pretrain-arch-polymorphic-v1"):
            (clone / "evidence" / cid / "x").mkdir(parents=True, exist_ok=True)
    root = ["--root", str(clone), "--format", "json"]
    assert main(["promote", str(clone / "contracts" / "apr-pretrain-init-finetune-v1.yaml"), "--to",
                 "ACTIVE_RUNTIME", "--dry-run", *root]) == 1
    missing = json.loads(capsys.readouterr().out)["missing"]
    live = [m for m in missing if m.startswith(("FALSIFY-INITFT-002", "FALSIFY-INITFT-006"))]
    assert [m.split(":")[0] for m in live] == ["FALSIFY-INITFT-002", "FALSIFY-INITFT-006"]  # both advisory
    assert all("live-not-run" in m or "no verdict" in m for m in live)
    assert main(["promote", str(clone / "contracts" / "apr-pretrain-arch-polymorphic-v1.yaml"), "--to",
                 "ACTIVE_RUNTIME", "--dry-run", *root]) == 1
    assert any(m.startswith("no LIVE falsifier") for m in json.loads(capsys.readouterr().out)["missing"])
