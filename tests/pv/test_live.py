"""LIVE falsifiers: run only on request, judged by the contract's check, recorded as evidence."""

from __future__ import annotations

import json
import os
import shlex
import sys

import pytest

from pv.cli import main
from pv.enums import Status
from pv.ledger import Outcome, read_ledger
from pv.live import judge
from pv.promote import promote
from pv.verify import verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, no_hang, valid_contract

# Writes its argv as metrics: `emit.py out.json step_0_loss=3.0 vocab_size=151936`, exit code via EXIT=n.
EMIT = '''
import json, sys
out, *pairs = sys.argv[1:]
metrics = {}
for pair in pairs:
    key, value = pair.split("=")
    if key == "EXIT":
        print("crashing as asked", file=sys.stderr)
        sys.exit(int(value))
    metrics[key] = float(value)
with open(out, "w") as f:
    json.dump(metrics, f)
print("run finished", metrics)
'''

PY = shlex.quote(sys.executable)


def live(fid: str, args: str, **extra) -> dict:
    return falsifier(fid, f"LIVE: {PY} emit.py {args}", **extra)


@pytest.fixture
def live_repo(repo: Repo) -> Repo:
    repo.write("emit.py", EMIT)
    repo.write("data/corpus.txt", "hello world\n")
    repo.write(".gitignore", "*.json\n!evidence/**/*.json\n")  # metrics files are run outputs
    repo.commit_all("start")  # evidence only counts once git tracks it
    return repo


def run(repo: Repo, *fals: dict, live_: bool = True, status: str = "DRAFT"):
    path = repo.contract(valid_contract("run-v1", falsifiers=list(fals), status=status))
    return path, {v.entry.falsifier_id: v.entry for v in verify(Workspace(repo.root), [path], live=live_).verdicts}


def test_checks_decide_pass_and_fail_from_the_metrics(live_repo: Repo) -> None:
    _, got = run(
        live_repo,
        live("FALSIFY-RUN-001", "m1.json step_0_loss=3.0 vocab_size=151936", metrics_file="m1.json",
             check="step_0_loss <= 0.7 * ln(vocab_size)"),
        live("FALSIFY-RUN-002", "m2.json step_0_loss=11.9 vocab_size=151936", metrics_file="m2.json",
             check="step_0_loss <= 0.7 * ln(vocab_size)"),
        live("FALSIFY-RUN-003", "m3.json val_loss=nan", metrics_file="m3.json",
             check="isfinite(val_loss) and val_loss < 9.38"),
        live("FALSIFY-RUN-004", "m4.json EXIT=3"),
        live("FALSIFY-RUN-005", "m5.json val_loss=2.0", metrics_file="m5.json", check="val_los < 9.38"),
        live("FALSIFY-RUN-006", "m6.json"),
    )
    assert {k: e.outcome for k, e in got.items()} == {
        "FALSIFY-RUN-001": Outcome.PASS, "FALSIFY-RUN-002": Outcome.FAIL, "FALSIFY-RUN-003": Outcome.FAIL,
        "FALSIFY-RUN-004": Outcome.FAIL, "FALSIFY-RUN-005": Outcome.ERROR, "FALSIFY-RUN-006": Outcome.PASS,
    }
    assert got["FALSIFY-RUN-001"].reason == ("check held: step_0_loss <= 0.7 * ln(vocab_size) with "
                                             "step_0_loss=3.0, vocab_size=151936.0")
    assert "check failed" in got["FALSIFY-RUN-002"].reason and "step_0_loss=11.9" in got["FALSIFY-RUN-002"].reason
    assert got["FALSIFY-RUN-004"].reason == "command exited with code 3"
    assert "unknown name 'val_los'; the metrics define: val_loss" in got["FALSIFY-RUN-005"].reason


def test_loss_floor_turns_a_degenerate_pass_into_a_failure(live_repo: Repo) -> None:
    _, got = run(live_repo, live("FALSIFY-RUN-001", "m.json val_loss=0.0008", metrics_file="m.json",
                                 check="isfinite(val_loss) and val_loss < 9.38", loss_floor=0.5))
    entry = got["FALSIFY-RUN-001"]
    assert entry.outcome is Outcome.FAIL
    assert "val_loss=0.0008 is below the declared loss_floor 0.5: a degenerate run" in entry.reason


def test_judge_without_floor_would_have_passed_the_degenerate_run() -> None:
    assert judge({"val_loss": 0.0008}, "isfinite(val_loss) and val_loss < 9.38", None)[0] == "pass"
    assert judge({"val_loss": 0.0008}, "isfinite(val_loss) and val_loss < 9.38", 0.5)[0] == "fail"
    assert judge({"val_loss": 1.0}, "val_loss * 2", None)[0] == "error"  # a number is not a verdict


def test_loss_floor_catches_minus_infinity_and_nan() -> None:
    check = "val_loss < 9.38"
    assert judge({"val_loss": float("-inf")}, check, None)[0] == "pass"  # what the floor is there to stop
    assert judge({"val_loss": float("-inf")}, check, 0.5)[0] == "fail"
    assert judge({"val_loss": float("-inf")}, None, 0.5)[0] == "fail"
    assert judge({"val_loss": float("nan")}, None, 0.5)[0] == "fail"
    assert judge({"val_loss": 1.0}, None, 0.5)[0] == "pass"


def test_hostile_metrics_and_paths_are_errors_not_crashes(live_repo: Repo) -> None:
    live_repo.write("big.py", "import sys\nopen(sys.argv[1], 'w').write(sys.argv[2] * 5000 + sys.argv[3])\n")
    (live_repo.root / "loop").symlink_to("loop")
    _, got = run(
        live_repo,
        falsifier("FALSIFY-RUN-001", f"LIVE: {PY} big.py m1.json '{{\"val_loss\": ' 1 '}}'", metrics_file="m1.json",
                  check="val_loss < 2"),
        falsifier("FALSIFY-RUN-002", f"LIVE: {PY} big.py m2.json '[' ''", metrics_file="m2.json",
                  check="val_loss < 2"),
        live("FALSIFY-RUN-003", "m3.json", artifacts=["loop/data.bin"]),
    )
    assert {e.outcome for e in got.values()} == {Outcome.ERROR}
    assert "cannot be read as JSON" in got["FALSIFY-RUN-001"].reason
    assert "cannot be read as JSON: maximum recursion depth" in got["FALSIFY-RUN-002"].reason
    assert "not a usable path" in got["FALSIFY-RUN-003"].reason


def test_evidence_folder_records_the_run(live_repo: Repo) -> None:
    _, got = run(live_repo, live("FALSIFY-RUN-001", "m.json step_0_loss=3.0 vocab_size=100", metrics_file="m.json",
                                 check="step_0_loss <= ln(vocab_size)", artifacts=["data/corpus.txt"]))
    entry = got["FALSIFY-RUN-001"]
    assert entry.evidence is not None and entry.evidence.startswith("evidence/run-v1/")
    folder = live_repo.root / entry.evidence
    record = json.loads((folder / "record.json").read_text())
    run_ = record["runs"][0]
    assert run_["exit_code"] == 0 and run_["wall_s"] >= 0 and run_["metrics"] == {"step_0_loss": 3.0,
                                                                                  "vocab_size": 100.0}
    assert run_["artifacts"]["data/corpus.txt"] == __import__("hashlib").sha256(b"hello world\n").hexdigest()
    assert record["environment"]["python"] == sys.version.split()[0]
    assert "device" in record["environment"] and "torch" in record["environment"]
    assert "run finished" in (folder / "FALSIFY-RUN-001.stdout.txt").read_text()
    readme = (folder / "README.md").read_text()
    assert "# Evidence: run-v1" in readme and "| FALSIFY-RUN-001 | PASS | 0 |" in readme


def test_unsafe_paths_and_stale_metrics_are_errors_not_passes(live_repo: Repo) -> None:
    (live_repo.root / "old.json").write_text('{"val_loss": 1.0}')
    _, got = run(
        live_repo,
        live("FALSIFY-RUN-001", "m.json", metrics_file="../outside.json", check="val_loss < 2"),
        live("FALSIFY-RUN-002", "m.json", artifacts=["/etc/passwd"]),
        falsifier("FALSIFY-RUN-003", "LIVE: true", metrics_file="old.json", check="val_loss < 2"),
        live("FALSIFY-RUN-004", "m.json", artifacts=["data/missing.bin"]),
        falsifier("FALSIFY-RUN-005", "LIVE: true", check="val_loss < 2"),
    )
    assert {e.outcome for e in got.values()} == {Outcome.ERROR}
    assert "leaves the repository (resolves to " in got["FALSIFY-RUN-001"].reason
    assert "is absolute" in got["FALSIFY-RUN-002"].reason
    assert "was not rewritten by this run" in got["FALSIFY-RUN-003"].reason
    assert "declared artifact(s) missing: data/missing.bin" in got["FALSIFY-RUN-004"].reason
    assert "need `metrics_file:`" in got["FALSIFY-RUN-005"].reason


def test_fifo_artifacts_and_metrics_are_refused_by_name_not_waited_on(live_repo: Repo) -> None:
    """Issue 16 item 3: reading a FIFO blocks for ever (no --timeout covered it); now it is refused at once."""
    os.mkfifo(live_repo.root / "data" / "pipe.bin")
    live_repo.write("mkfifo.py", "import os, sys\nos.mkfifo(sys.argv[1])\n")
    fifos = [live_repo.root / "data" / "pipe.bin", live_repo.root / "m2.json"]
    _, got = no_hang(lambda: run(
        live_repo,
        live("FALSIFY-RUN-001", "m1.json val_loss=1", artifacts=["data/pipe.bin"]),
        falsifier("FALSIFY-RUN-002", f"LIVE: {PY} mkfifo.py m2.json", metrics_file="m2.json", check="val_loss < 2"),
    ), fifos=fifos)
    assert got["FALSIFY-RUN-001"].outcome is Outcome.ERROR
    assert got["FALSIFY-RUN-001"].reason == ("unsafe path: artifact 'data/pipe.bin': is a FIFO (named pipe), "
                                             "not a regular file")
    assert got["FALSIFY-RUN-002"].outcome is Outcome.ERROR
    assert got["FALSIFY-RUN-002"].reason == "metrics_file m2.json cannot be read: is a FIFO (named pipe), not a " \
                                            "regular file"


def test_the_timeout_covers_hashing_the_artifacts(live_repo: Repo) -> None:
    path = live_repo.contract(valid_contract("run-v1", falsifiers=[
        live("FALSIFY-RUN-001", "m.json val_loss=1", artifacts=["data/corpus.txt"])]))
    (verdict,) = verify(Workspace(live_repo.root), [path], live=True, timeout_s=1e-6).verdicts
    assert verdict.entry.outcome is Outcome.FAIL
    assert verdict.entry.reason == "timed out after 1e-06 s while hashing artifact " + \
        str(live_repo.root / "data" / "corpus.txt")
    assert not (live_repo.root / "m.json").exists()  # the command never started


def test_a_symlinked_artifact_leading_out_is_refused_and_named(live_repo: Repo, tmp_path_factory) -> None:
    """Issue 16 item 9: the same rule as `..`, and the message says where the link really goes."""
    outside = tmp_path_factory.mktemp("outside") / "weights.bin"
    outside.write_bytes(b"\0" * 16)
    (live_repo.root / "data" / "weights.bin").symlink_to(outside)
    _, got = run(live_repo, live("FALSIFY-RUN-001", "m.json val_loss=1", artifacts=["data/weights.bin"]))
    assert got["FALSIFY-RUN-001"].outcome is Outcome.ERROR
    assert got["FALSIFY-RUN-001"].reason == (f"unsafe path: 'data/weights.bin' leads outside the repository "
                                             f"through a symlink (to {outside})")
    assert not (live_repo.root / "m.json").exists()


def test_an_evidence_folder_linked_out_of_the_repository_is_refused_before_anything_runs(
        live_repo: Repo, tmp_path_factory, capsys) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (live_repo.root / "evidence").symlink_to(outside)
    live_repo.contract(valid_contract("run-v1", falsifiers=[live("FALSIFY-RUN-001", "m.json val_loss=1")]))
    assert main(["verify", "--live", "--root", str(live_repo.root)]) == 2
    assert f"the evidence folder 'evidence' leads outside the repository through a symlink (to {outside})" in \
        capsys.readouterr().err
    assert not (live_repo.root / "m.json").exists() and not any(outside.iterdir())


def test_live_commands_never_run_from_validate_lint_or_plain_verify(live_repo: Repo) -> None:
    path = live_repo.contract(valid_contract("run-v1", falsifiers=[falsifier("FALSIFY-RUN-001", "LIVE: touch pwned")]))
    root = str(live_repo.root)
    main(["validate", str(path), "--root", root])
    main(["lint", "--root", root])
    main(["verify", "--root", root])
    main(["status", "--root", root])
    main(["coverage", "--root", root])
    assert not (live_repo.root / "pwned").exists()
    main(["verify", "--root", root, "--live"])
    assert (live_repo.root / "pwned").exists()


def test_active_runtime_needs_matching_evidence_and_a_run_without_live_keeps_it(live_repo: Repo) -> None:
    live_repo.write("falsifiers/test_unit.py", "def test_unit():\n    assert True\n")
    fals = [falsifier("FALSIFY-RUN-001", "falsifiers/test_unit.py::test_unit"),
            live("FALSIFY-RUN-002", "m.json val_loss=2.0", metrics_file="m.json", check="val_loss < 9.38",
                 artifacts=["data/corpus.txt"])]
    path, _ = run(live_repo, *fals, live_=False, status="FUNCTIONAL")
    refused = promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True)
    assert any("FALSIFY-RUN-002: live-not-run" in m and "pv verify --live" in m for m in refused.missing)

    run(live_repo, *fals, status="FUNCTIONAL")  # with --live: evidence recorded
    untracked = promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True)
    assert any("FALSIFY-RUN-002: evidence/run-v1/" in m and "is not tracked by git" in m for m in untracked.missing)
    live_repo.commit_all("evidence")
    assert promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True).ok

    run(live_repo, *fals, live_=False, status="FUNCTIONAL")  # a plain run must not erase the LIVE verdict
    ledger = read_ledger(live_repo.root / ".pv" / "ledger.json")
    assert ledger.entries["FALSIFY-RUN-002"].outcome is Outcome.PASS
    assert promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True).ok

    (live_repo.root / "data" / "corpus.txt").write_text("a different corpus\n")
    changed = promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True)
    assert not changed.ok
    assert "FALSIFY-RUN-002: ledger verdict is stale: data/corpus.txt changed (run `pv verify --live --changed`)" \
        in changed.missing
    (live_repo.root / "data" / "corpus.txt").write_text("hello world\n")
    (live_repo.root / "emit.py").write_text(EMIT + "# the command's own code changed\n")
    assert "FALSIFY-RUN-002: ledger verdict is stale: emit.py changed (run `pv verify --live --changed`)" \
        in promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True).missing


def test_evidence_recorded_before_a_loss_floor_was_added_does_not_count(live_repo: Repo) -> None:
    live_repo.write("falsifiers/test_unit.py", "def test_unit():\n    assert True\n")
    unit = falsifier("FALSIFY-RUN-001", "falsifiers/test_unit.py::test_unit")
    degenerate = dict(metrics_file="m.json", check="isfinite(val_loss) and val_loss < 9.38")
    path, got = run(live_repo, unit, live("FALSIFY-RUN-002", "m.json val_loss=0.0008", **degenerate),
                    status="FUNCTIONAL")
    assert got["FALSIFY-RUN-002"].outcome is Outcome.PASS  # no floor yet: the degenerate run passes
    live_repo.commit_all("evidence")
    assert promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True).ok
    # the contract now declares the floor that run would fail; its old evidence must not be reused
    path, _ = run(live_repo, unit, live("FALSIFY-RUN-002", "m.json val_loss=0.0008", loss_floor=0.5, **degenerate),
                  live_=False, status="FUNCTIONAL")
    refused = promote(Workspace(live_repo.root), path, Status.ACTIVE_RUNTIME, dry_run=True)
    assert any("FALSIFY-RUN-002: ledger verdict is stale: its contract entry changed" in m for m in refused.missing)


def test_a_live_timeout_kills_the_commands_whole_process_group(live_repo: Repo) -> None:
    from tests.pv.test_procrun import read_pid, wait_gone

    path = live_repo.contract(valid_contract("run-v1", falsifiers=[
        falsifier("FALSIFY-RUN-001", "LIVE: sleep 120 & echo $! > grandchild.pid; wait")]))
    report = verify(Workspace(live_repo.root), [path], live=True, timeout_s=1)
    assert wait_gone(read_pid(live_repo.root / "grandchild.pid")), "the LIVE command's grandchild survived"
    entry = report.verdicts[0].entry
    assert entry.outcome is Outcome.FAIL and entry.timed_out and entry.exit_code is None
    assert "timed out after 1 s" in entry.reason
