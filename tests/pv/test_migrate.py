"""`pv migrate`: a reference-format suite migrates, validates, lints and runs under `pv verify`."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pv.cli import main
from pv.diagnostics import Severity
from pv.enums import ContractKind
from pv.ledger import Outcome, read_ledger
from pv.lint import lint
from pv.loader import load_contract
from pv.migrate import migrate_file
from pv.verify import verify
from pv.workspace import Workspace
from pv.yaml_edit import edit_yaml_text

SUITE = Path(__file__).parent / "data" / "reference_suite"
DATE = "2026-06-01"
PY = shlex.quote(sys.executable)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    shutil.copytree(SUITE, root)
    return root


def pv(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def contracts(root: Path) -> list[Path]:
    return sorted((root / "contracts").glob("*.yaml"))


def test_the_reference_suite_migrates_validates_lints_and_verifies(suite: Path, capsys) -> None:
    before = {p.name: len(load_contract(p).diagnostics) for p in contracts(suite)}
    assert all(n > 0 for n in before.values()), before

    code, out = pv(capsys, "migrate", str(suite / "contracts"), "--root", str(suite), "--write", "--date", DATE,
                   "--kind", "pattern=pipeline")
    assert code == 0, out
    assert "4 migrated, 0 need a person, 0 already in pv's format" in out
    for path in contracts(suite):
        lc = load_contract(path)
        assert lc.ok, [d.one_line() for d in lc.diagnostics]

    report = lint(Workspace(suite), contracts(suite), strict_test_binding=True)
    assert report.passed, [d.one_line() for d in report.diagnostics]
    for d in report.diagnostics:  # only a toolchain absent from this machine may remain, as a warning
        assert d.severity is Severity.WARNING and d.code == "cmd" and "is not on PATH here" in d.message

    migrated = {p.name: p.read_text() for p in contracts(suite)}
    code, out = pv(capsys, "migrate", str(suite / "contracts"), "--root", str(suite), "--write", "--date", DATE)
    assert code == 0 and "0 migrated, 0 need a person, 4 already in pv's format" in out
    assert {p.name: p.read_text() for p in contracts(suite)} == migrated  # idempotent

    # Stand-ins for cargo/go/pytest: the exit code decides; FALSIFY-SHARD-002's stand-in fails.
    for path in contracts(suite):
        path.write_text(edit_yaml_text(path.read_text(), _stand_ins))
    result = verify(Workspace(suite), contracts(suite))
    got = {v.entry.falsifier_id: v.entry for v in result.verdicts}
    assert got["FALSIFY-SHARD-002"].outcome is Outcome.FAIL and got["FALSIFY-SHARD-002"].exit_code == 1
    assert "exited with code 1: stand-in for FALSIFY-SHARD-002" in got["FALSIFY-SHARD-002"].reason
    assert got["FALSIFY-CKPT-002"].outcome is Outcome.PASS and got["FALSIFY-CKPT-002"].node_id  # a pytest binding
    cmd_ids = [fid for fid in got if fid not in ("FALSIFY-CKPT-002", "FALSIFY-SHARD-002")]
    assert len(cmd_ids) == 6 and all(got[f].outcome is Outcome.PASS and got[f].exit_code == 0 for f in cmd_ids)
    assert not result.ok  # the failing falsifier is ship-blocking by the stated default
    ledger = read_ledger(suite / ".pv" / "ledger.json")
    assert ledger.entries["FALSIFY-SHARD-003"].binding.startswith("CMD: ")


def _stand_ins(doc) -> None:
    for ft in doc["falsification_tests"]:
        if str(ft.get("test", "")).startswith("CMD: "):
            code = 1 if ft["id"] == "FALSIFY-SHARD-002" else 0
            ft["test"] = f"CMD: {PY} -c \"import sys; print('stand-in for {ft['id']}'); sys.exit({code})\""


def test_a_reference_contract_goes_from_schema_errors_to_none_and_keeps_its_comments(suite: Path, capsys) -> None:
    path = suite / "contracts" / "shard-writer-v1.yaml"
    original = path.read_text()
    before = load_contract(path).diagnostics
    assert {d.key_path for d in before} == {"metadata.id", "metadata.kind", "falsification_tests[0].ship_blocking",
                                            "falsification_tests[1].ship_blocking",
                                            "falsification_tests[2].ship_blocking"}
    code, out = pv(capsys, "migrate", str(path), "--root", str(suite), "--write", "--date", DATE)
    assert code == 0, out
    assert load_contract(path).diagnostics == []
    text = path.read_text()
    assert "  bound: 8  # shards of 0..8 tokens\n" in text  # inline comments survive
    assert "  obligation: SW-SND-002  # the soundness obligation, by id\n" in text
    assert "created: '2026-03-02'" in text  # quoting survives
    assert "  change: |\n      Bind FALSIFY-SHARD-003 to the integration test" in text  # block scalars too
    data, old = yaml.safe_load(text), yaml.safe_load(original)
    assert list(data) == list(old)  # top-level key order kept
    assert [k for k in data["metadata"] if k in old["metadata"]] == list(old["metadata"])
    meta = data["metadata"]
    assert (meta["id"], meta["kind"], meta["version"], meta["registry"]) == ("shard-writer-v1", "tooling", "1.2.0",
                                                                             True)
    assert [e["version"] for e in meta["changelog"]] == ["1.0.0", "1.1.0", "1.2.0"]  # put oldest first
    entry = meta["changelog"][-1]
    assert entry["date"] == dt.date(2026, 6, 1) and meta["updated"] == dt.date(2026, 6, 1)
    assert "kind: schema -> tooling" in entry["change"] and "ship_blocking: true on 3 falsifier(s)" in entry["change"]
    tests = [ft["test"] for ft in data["falsification_tests"]]
    assert tests[2] == ("CMD: cargo build -p shardkit && cargo test -p shardkit --test crash -- "
                        "killed_between_shards_keeps_earlier_ones --exact")
    assert all(ft["ship_blocking"] is True for ft in data["falsification_tests"])
    assert data["kani_harnesses"] == old["kani_harnesses"] and data["verification_summary"] == old[
        "verification_summary"]


def test_its_falsifier_runs_as_a_cmd_binding_with_the_exit_code_as_verdict(suite: Path, monkeypatch) -> None:
    path = suite / "contracts" / "shard-writer-v1.yaml"
    assert migrate_file(path, suite, write=True).ok
    fake = suite / "bin"
    fake.mkdir()
    cargo = fake / "cargo"  # a stand-in cargo: `cargo test ... rejects_id_at_vocab_size` fails, the rest pass
    cargo.write_text("#!/bin/sh\ncase \"$*\" in *rejects_id_at_vocab_size*) echo 'assertion failed'; exit 101;; "
                     "esac\necho ok\n")
    cargo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    got = {v.entry.falsifier_id: v.entry for v in verify(Workspace(suite), [path]).verdicts}
    assert got["FALSIFY-SHARD-001"].outcome is Outcome.PASS
    assert got["FALSIFY-SHARD-002"].outcome is Outcome.FAIL and got["FALSIFY-SHARD-002"].exit_code == 101
    assert got["FALSIFY-SHARD-002"].reason == "command exited with code 101: assertion failed"
    assert got["FALSIFY-SHARD-003"].outcome is Outcome.PASS  # both halves of the && chain ran


def test_ship_blocking_default_false_is_applied_and_recorded(suite: Path) -> None:
    path = suite / "contracts" / "vocab-lookup-v1.yaml"
    result = migrate_file(path, suite, ship_blocking_default=False, date=dt.date(2026, 6, 1), write=True)
    assert result.ok and result.version == "2.1.0"
    data = yaml.safe_load(path.read_text())
    assert [ft["ship_blocking"] for ft in data["falsification_tests"]] == [False, False]
    assert "ship_blocking: false on 2 falsifier(s)" in data["metadata"]["changelog"][-1]["change"]
    assert [ob.get("applies_to") for ob in data["proof_obligations"]] == [["roundtrip"], None]


def test_a_contract_without_changelog_or_updated_gets_both(suite: Path) -> None:
    path = suite / "contracts" / "checkpoint-format-v1.yaml"
    assert migrate_file(path, suite, date=dt.date(2026, 6, 1), write=True).ok
    meta = yaml.safe_load(path.read_text())["metadata"]
    assert [e["version"] for e in meta["changelog"]] == ["1.1.0"] and meta["version"] == "1.1.0"
    assert meta["updated"] == dt.date(2026, 6, 1) and meta["kind"] == "architecture"
    assert "\n\n  - version" not in path.read_text() and "changelog:\n  - version: 1.1.0" in path.read_text()


def test_what_needs_a_person_is_listed_and_the_file_left_untouched(suite: Path, capsys) -> None:
    pattern = suite / "contracts" / "thread-safety-v1.yaml"
    prose = suite / "contracts" / "prose-v1.yaml"
    text = (suite / "contracts" / "vocab-lookup-v1.yaml").read_text()
    prose.write_text(text.replace('"go test ./internal/vocab/ -run TestLookupRoundTrip"',
                                  '"Look up every vocab entry and back"'))
    extra = suite / "contracts" / "extra-v1.yaml"
    extra.write_text(pattern.read_text().replace("kind: pattern", "kind: kernel") + "qa_gate:\n  id: F-TS-GATE\n")
    untouched = {p: p.read_text() for p in (pattern, prose, extra)}
    code, out = pv(capsys, "migrate", str(pattern), str(prose), str(extra), "--root", str(suite), "--write")
    assert code == 1
    assert "kind 'pattern' has no equivalent here" in out and "--kind pattern=KIND" in out
    assert "FALSIFY-VOCAB-001: test 'Look up every vocab entry and back' is neither a test nor a known command" in out
    assert "still invalid after migration" in out and "unknown key 'qa_gate'" in out
    assert {p: p.read_text() for p in untouched} == untouched


def test_an_invalid_file_with_nothing_to_migrate_is_not_called_migrated(suite: Path) -> None:
    path = suite / "contracts" / "shard-writer-v1.yaml"
    assert migrate_file(path, suite, write=True).ok
    path.write_text(path.read_text() + "qa_gate:\n  id: F-SW-GATE\n")
    result = migrate_file(path, suite, write=True)
    assert not result.ok and not result.changes and not result.written
    assert "invalid, and nothing pv migrate can change" in result.needs[0] and "qa_gate" in result.needs[0]


def test_a_mismatched_id_is_not_overwritten(suite: Path) -> None:
    path = suite / "contracts" / "thread-safety-v1.yaml"
    path.write_text(path.read_text().replace("metadata:\n", "metadata:\n  id: thread-safety\n", 1))
    result = migrate_file(path, suite, kind_map={"pattern": ContractKind.PIPELINE})
    assert any("differs from the file name" in n for n in result.needs) and not result.written


def test_dry_run_and_diff_write_nothing(suite: Path, capsys) -> None:
    path = suite / "contracts" / "shard-writer-v1.yaml"
    original = path.read_text()
    code, out = pv(capsys, "migrate", str(path), "--root", str(suite), "--diff", "--date", DATE)
    assert code == 0 and path.read_text() == original
    assert "+  id: shard-writer-v1" in out and "-  kind: schema" in out and "(nothing written: pass --write)" in out
    code, out = pv(capsys, "migrate", str(path), "--root", str(suite), "--format", "json", "--date", DATE)
    payload = json.loads(out)
    assert code == 0 and payload["files"][0]["migrated"] and not payload["files"][0]["written"]
    assert path.read_text() == original


def test_bad_kind_option_is_a_usage_error(suite: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["migrate", str(suite / "contracts"), "--kind", "pattern=nonsense"])
    assert exc.value.code == 2 and "is not REF=KIND" in capsys.readouterr().err


def test_the_readme_commands_run_as_written(tmp_path: Path) -> None:
    """The README's "Bring an existing contract suite" block, line by line, with its stated exit codes."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Bring an existing contract suite", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    target = tmp_path / "ref-suite"
    script = "\n".join(f'{line.replace("/tmp/ref-suite", str(target))}\necho "::rc=$?"' for line in lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "COLUMNS": "200"}
    proc = subprocess.run(["bash", "-c", script], cwd=Path(__file__).parents[2], env=env, capture_output=True,
                          text=True, timeout=600)
    codes = [int(line.split("=", 1)[1]) for line in proc.stdout.splitlines() if line.startswith("::rc=")]
    assert codes[:6] == [0, 1, 1, 0, 0, 0], proc.stdout + proc.stderr
    assert len(codes) == 7 and codes[6] in (0, 1)
    assert "4/4 contracts valid" in proc.stdout and "13/13 gates PASS" in proc.stdout
    ledger = read_ledger(target / ".pv" / "ledger.json")
    commands = [e for e in ledger.entries.values() if (e.binding or "").startswith("CMD: ")]
    assert len(commands) == 7 and all(e.exit_code is not None for e in commands)
    assert ledger.entries["FALSIFY-CKPT-001"].outcome is Outcome.PASS  # the pytest command ran for real
