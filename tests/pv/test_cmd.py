"""`CMD:` bindings: any-language commands whose exit code is the falsifier's verdict."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pv import testscan
from pv.binding import BindingKind, parse_binding, resolve
from pv.cli import main
from pv.cmdrun import DEFAULT_TIMEOUT_S, effective_timeout
from pv.enums import Status
from pv.freshness import Digests
from pv.ledger import Outcome, read_ledger
from pv.promote import promote
from pv.verify import verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract
from tests.pv.test_procrun import read_pid, wait_gone

PY = shlex.quote(sys.executable)


def cmd(code: int, *, say: str = "") -> str:
    return f"CMD: {PY} -c \"import sys; print({say!r}); sys.exit({code})\""


def run(repo: Repo, *fals: dict, **kwargs) -> dict:
    path = repo.contract(valid_contract("cmd-v1", falsifiers=list(fals), **kwargs.pop("meta", {})))
    report = verify(Workspace(repo.root), [path], **kwargs)
    return {v.entry.falsifier_id: v for v in report.verdicts}


def test_parse_cmd_bindings() -> None:
    b = parse_binding("CMD: cargo test -p apr-cli --lib commands::pretrain::tests::x")
    assert b.kind is BindingKind.CMD and b.command == "cargo test -p apr-cli --lib commands::pretrain::tests::x"
    assert parse_binding("cmd:   go test ./...").kind is BindingKind.CMD
    assert parse_binding("CMD:").kind is BindingKind.INVALID
    # a node id with spaces in its file part is not a node id: it is a command someone forgot to mark
    assert parse_binding("python -m pytest falsifiers/test_x.py::test_y").kind is BindingKind.INVALID


def test_a_bare_command_is_never_run_but_the_problem_suggests_cmd() -> None:
    res = resolve(parse_binding("cargo test -p apr-cli -- x"), testscan.TestIndex())
    assert "'CMD: <command>'" in res.problem and res.suggestion == "CMD: cargo test -p apr-cli -- x"
    prose = resolve(parse_binding("Create a config with a prime hidden size"), testscan.TestIndex())
    assert prose.suggestion is None  # prose is not turned into a command


def test_exit_code_is_the_verdict_and_output_is_recorded(repo: Repo) -> None:
    got = run(repo, falsifier("FALSIFY-CMD-001", cmd(0, say="all good")),
              falsifier("FALSIFY-CMD-002", cmd(3, say="assertion left != right")),
              falsifier("FALSIFY-CMD-003", "CMD: pv-no-such-tool-xyz --run"))
    ok, bad, missing = (got[f"FALSIFY-CMD-00{i}"].entry for i in (1, 2, 3))
    assert (ok.outcome, ok.exit_code, ok.timed_out) == (Outcome.PASS, 0, False)
    assert "all good" in ok.output_tail and ok.duration_s > 0
    assert (bad.outcome, bad.exit_code) == (Outcome.FAIL, 3)
    assert bad.reason == "command exited with code 3: assertion left != right"
    assert missing.outcome is Outcome.ERROR and missing.exit_code == 127 and "not found" in missing.reason
    assert ok.node_id is None and ok.binding.startswith("CMD: ")
    ledger = read_ledger(repo.root / ".pv" / "ledger.json")
    assert ledger.entries["FALSIFY-CMD-002"].output_tail.strip() == "assertion left != right"


def test_commands_run_from_the_repo_root_with_the_falsifier_in_the_environment(repo: Repo) -> None:
    got = run(repo, falsifier("FALSIFY-CMD-001", "CMD: pwd && echo id=$PV_FALSIFIER_ID contract=$PV_CONTRACT_ID"))
    tail = got["FALSIFY-CMD-001"].entry.output_tail
    assert str(repo.root.resolve()) in tail and "id=FALSIFY-CMD-001 contract=cmd-v1" in tail


def test_a_chained_command_fails_when_either_part_fails(repo: Repo) -> None:
    got = run(repo, falsifier("FALSIFY-CMD-001", "CMD: true && false"),
              falsifier("FALSIFY-CMD-002", "CMD: true && true"))
    assert got["FALSIFY-CMD-001"].entry.outcome is Outcome.FAIL
    assert got["FALSIFY-CMD-002"].entry.outcome is Outcome.PASS


def test_a_cmd_timeout_kills_the_whole_group_and_the_ledger_records_it(repo: Repo) -> None:
    got = run(repo, falsifier("FALSIFY-CMD-001", "CMD: sleep 120 & echo $! > grandchild.pid; wait", timeout_s=1))
    assert wait_gone(read_pid(repo.root / "grandchild.pid")), "the command's grandchild outlived the timeout"
    entry = read_ledger(repo.root / ".pv" / "ledger.json").entries["FALSIFY-CMD-001"]
    assert entry.outcome is Outcome.FAIL and entry.timed_out and entry.exit_code is None
    assert entry.reason == "timed out after 1 s; its whole process group was killed"
    assert got["FALSIFY-CMD-001"].entry.duration_s < 30


def test_verify_timeout_caps_the_falsifiers_own(repo: Repo) -> None:
    assert effective_timeout(None, None) == DEFAULT_TIMEOUT_S
    assert effective_timeout(5, None) == 5 and effective_timeout(None, 7) == 7 and effective_timeout(5, 2) == 2
    got = run(repo, falsifier("FALSIFY-CMD-001", "CMD: sleep 30", timeout_s=60), timeout_s=1)
    assert got["FALSIFY-CMD-001"].entry.timed_out


def test_no_cmd_skips_commands_and_keeps_their_last_verdict(repo: Repo, capsys) -> None:
    path = repo.contract(valid_contract("cmd-v1", falsifiers=[falsifier("FALSIFY-CMD-001", "CMD: touch ran.txt")]))
    assert main(["verify", str(path), "--root", str(repo.root), "--no-cmd"]) == 0
    assert not (repo.root / "ran.txt").exists()
    assert "CMD-NOT-RUN" in capsys.readouterr().out
    assert read_ledger(repo.root / ".pv" / "ledger.json").entries["FALSIFY-CMD-001"].outcome is Outcome.CMD_NOT_RUN
    assert main(["verify", str(path), "--root", str(repo.root)]) == 0
    assert (repo.root / "ran.txt").exists()
    assert main(["verify", str(path), "--root", str(repo.root), "--no-cmd"]) == 0
    entry = read_ledger(repo.root / ".pv" / "ledger.json").entries["FALSIFY-CMD-001"]
    assert entry.outcome is Outcome.PASS  # --no-cmd did not erase the real verdict


def test_validate_and_lint_never_run_commands(repo: Repo) -> None:
    path = repo.contract(valid_contract("cmd-v1", falsifiers=[falsifier("FALSIFY-CMD-001", "CMD: touch ran.txt")]))
    assert main(["validate", str(path)]) == 0
    main(["lint", str(path), "--root", str(repo.root)])
    assert not (repo.root / "ran.txt").exists()


def test_json_junit_and_status_show_cmd_verdicts_like_test_verdicts(repo: Repo, capsys) -> None:
    path = repo.contract(valid_contract("cmd-v1", falsifiers=[
        falsifier("FALSIFY-CMD-001", cmd(0)), falsifier("FALSIFY-CMD-002", cmd(1), ship_blocking=False)]))
    junit = repo.root / ".pv" / "junit.xml"  # outside the files a CMD verdict without inputs: depends on
    assert main(["verify", str(path), "--root", str(repo.root), "--format", "json", "--junit", str(junit)]) == 0
    falsifiers = json.loads(capsys.readouterr().out)["contracts"][0]["falsifiers"]
    assert [(f["outcome"], f["exit_code"]) for f in falsifiers] == [("pass", 0), ("fail", 1)]
    assert 'name="exit_code" value="1"' in junit.read_text()
    assert main(["status", "--root", str(repo.root), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["contracts"][0]
    assert row["outcomes"] == {"pass": 1, "fail": 1}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=pv@example.invalid", "-c", "user.name=pv tests", *args], cwd=root,
                   check=True, capture_output=True)


@pytest.fixture
def git_repo(repo: Repo) -> Repo:
    repo.write("src/lib.txt", "v1\n")
    repo.write("docs/notes.txt", "notes\n")
    git(repo.root, "init", "-q")
    return repo


def commit(repo: Repo, message: str) -> None:
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", message)


def test_a_fresh_cmd_pass_supports_promotion_like_a_test_pass(git_repo: Repo) -> None:
    path = git_repo.contract(valid_contract("cmd-v1", status="PARTIAL_ALGORITHM_LEVEL", falsifiers=[
        falsifier("FALSIFY-CMD-001", "CMD: grep -q v1 src/lib.txt")]))
    commit(git_repo, "init")
    refused = promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True)
    assert any("FALSIFY-CMD-001: no verdict in the ledger" in m for m in refused.missing)
    verify(Workspace(git_repo.root), [path])
    assert promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True).ok
    git_repo.write("src/lib.txt", "v2\n")  # the code changed: the pass no longer counts
    stale = promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True)
    assert any("stale" in m and "a file matching ** changed" in m for m in stale.missing)
    verify(Workspace(git_repo.root), [path])
    failing = promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True)
    assert any("FALSIFY-CMD-001: fail in the ledger" in m for m in failing.missing)


def test_declared_inputs_keep_a_verdict_fresh_across_unrelated_commits(git_repo: Repo) -> None:
    path = git_repo.contract(valid_contract("cmd-v1", status="PARTIAL_ALGORITHM_LEVEL", falsifiers=[
        falsifier("FALSIFY-CMD-001", "CMD: grep -q v1 src/lib.txt", inputs=["src/**/*.txt"])]))
    commit(git_repo, "init")
    verify(Workspace(git_repo.root), [path])
    entry = read_ledger(git_repo.root / ".pv" / "ledger.json").entries["FALSIFY-CMD-001"]
    assert entry.inputs == {"glob:src/**/*.txt": Digests(git_repo.root).get("glob:src/**/*.txt")}
    git_repo.write("docs/notes.txt", "more notes\n")
    commit(git_repo, "docs only")
    assert promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True).ok  # inputs untouched: still fresh
    git_repo.write("src/new.txt", "added\n")  # a new input file counts as a change
    stale = promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True)
    assert any("a file matching src/**/*.txt changed" in m for m in stale.missing)


def test_a_changed_command_makes_the_verdict_stale(git_repo: Repo) -> None:
    path = git_repo.contract(valid_contract("cmd-v1", status="PARTIAL_ALGORITHM_LEVEL", falsifiers=[
        falsifier("FALSIFY-CMD-001", "CMD: true", inputs=["src/lib.txt"])]))
    commit(git_repo, "init")
    verify(Workspace(git_repo.root), [path])
    git_repo.contract(valid_contract("cmd-v1", status="PARTIAL_ALGORITHM_LEVEL", falsifiers=[
        falsifier("FALSIFY-CMD-001", "CMD: true --other", inputs=["src/lib.txt"])]))
    refused = promote(Workspace(git_repo.root), path, Status.FUNCTIONAL, dry_run=True)
    assert any("its contract entry changed since it was recorded" in m for m in refused.missing)


def test_the_report_shows_cmd_verdicts_like_test_verdicts(repo: Repo) -> None:
    from pv.site.model import State, build_project

    path = repo.contract(valid_contract("cmd-v1", falsifiers=[
        falsifier("FALSIFY-CMD-001", cmd(0)), falsifier("FALSIFY-CMD-002", cmd(4)),
        falsifier("FALSIFY-CMD-003", "CMD: true")]))
    verify(Workspace(repo.root), [path], patterns=["FALSIFY-CMD-00[12]"])
    verify(Workspace(repo.root), [path], patterns=["FALSIFY-CMD-003"], cmd=False)  # recorded as cmd-not-run
    ws = Workspace(repo.root)
    states = {f.id: f.state for f in build_project(ws, ws.contracts).falsifiers}
    assert states == {"FALSIFY-CMD-001": State.PASS, "FALSIFY-CMD-002": State.FAIL, "FALSIFY-CMD-003": State.NOT_RUN}
