"""The pv CLI: exit codes, and every output format machines read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pv.cli import main
from tests.pv.conftest import Repo, falsifier, no_hang, valid_contract


def _pv(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mixed(repo: Repo) -> Repo:
    repo.write("falsifiers/test_demo.py", "def test_ok():\n    pass\n")
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_demo.py::test_ok")]))
    bad = valid_contract("bad-v1")
    bad["metadata"]["status"] = "DONE"
    repo.contract(bad)
    return repo


def test_validate_exit_codes(capsys, mixed: Repo) -> None:
    good = str(mixed.root / "contracts" / "demo-v1.yaml")
    bad = str(mixed.root / "contracts" / "bad-v1.yaml")
    assert _pv(capsys, "validate", "--root", str(mixed.root), good)[0] == 0
    code, out, _ = _pv(capsys, "validate", "--root", str(mixed.root), good, bad)
    assert code == 1
    assert "contracts/bad-v1.yaml:4:11: error[schema] at metadata.status: 'DONE' is not a valid status" in out
    assert "1/2 contracts valid" in out
    code, _, err = _pv(capsys, "validate", "--root", str(mixed.root), str(mixed.root / "missing.yaml"))
    assert code == 2 and "no such file" in err
    with pytest.raises(SystemExit) as exc:
        main(["validate"])
    assert exc.value.code == 2


def test_validate_json(capsys, mixed: Repo) -> None:
    code, out, _ = _pv(capsys, "validate", "--root", str(mixed.root), "--format", "json", str(mixed.root / "contracts"))
    payload = json.loads(out)
    assert code == 1
    assert payload["files"] == 2 and payload["failed"] == 1
    (diag,) = payload["diagnostics"]
    assert diag["file"] == "contracts/bad-v1.yaml" and diag["line"] == 4 and diag["key_path"] == "metadata.status"


def test_validate_sarif_structure(capsys, mixed: Repo) -> None:
    contracts = str(mixed.root / "contracts")
    code, out, _ = _pv(capsys, "validate", "--root", str(mixed.root), "--format", "sarif", contracts)
    sarif = json.loads(out)
    assert code == 1 and sarif["version"] == "2.1.0"
    (result,) = sarif["runs"][0]["results"]
    assert result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 11}
    assert sarif["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_validate_github_annotations(capsys, mixed: Repo) -> None:
    _, out, _ = _pv(capsys, "validate", "--root", str(mixed.root), "--format", "github", str(mixed.root / "contracts"))
    assert out.startswith("::error file=contracts/bad-v1.yaml,line=4,col=11,title=pv schema::")


def test_lint_table_and_exit(capsys, mixed: Repo) -> None:
    (mixed.root / "contracts" / "bad-v1.yaml").unlink()
    code, out, _ = _pv(capsys, "lint", "--root", str(mixed.root), "--strict-test-binding")
    assert code == 0
    assert "13/13 gates PASS" in out
    mixed.write("falsifiers/test_demo.py", "def test_ok_renamed():\n    pass\n")
    code, out, _ = _pv(capsys, "lint", "--root", str(mixed.root), "--strict-test-binding")
    assert code == 1
    assert "12/13 gates PASS" in out
    assert "did you mean `falsifiers/test_demo.py::test_ok_renamed`?" in out


def test_lint_json(capsys, mixed: Repo) -> None:
    code, out, _ = _pv(capsys, "lint", "--root", str(mixed.root), "--format", "json")
    payload = json.loads(out)
    assert code == 1
    gates = {g["name"]: g for g in payload["gates"]}
    assert not gates["schema"]["passed"] and gates["orphans"]["passed"]


def test_schema_check_detects_drift(capsys, repo: Repo) -> None:
    assert _pv(capsys, "schema", "--root", str(repo.root), "--check")[0] == 1
    assert _pv(capsys, "schema", "--root", str(repo.root), "--write")[0] == 0
    assert _pv(capsys, "schema", "--root", str(repo.root), "--check")[0] == 0


def test_console_script_reports_without_traceback(mixed: Repo) -> None:
    proc = subprocess.run([sys.executable, "-m", "pv.cli", "validate", "contracts/bad-v1.yaml"],
                          cwd=mixed.root, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "contracts/bad-v1.yaml:4:11" in proc.stdout


def test_a_pv_bug_exits_70_not_1(monkeypatch, capsys, repo: Repo) -> None:
    from pv.workspace import Workspace

    def boom(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(Workspace, "load", boom)
    repo.contract(valid_contract())
    assert main(["validate", "--root", str(repo.root), str(repo.root / "contracts")]) == 70
    assert "ZeroDivisionError: simulated bug" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "1e300", "0"])
def test_verify_timeout_must_be_a_finite_positive_bound(capsys, repo: Repo, value: str) -> None:
    """Issue 16 item 7: `--timeout nan` was accepted (no limit at all); 1e300 overflowed the OS timers (exit 70)."""
    repo.write("falsifiers/test_demo.py", "def test_ok():\n    pass\n")
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_demo.py::test_ok")]))
    try:
        code = main(["verify", "--root", str(repo.root), f"--timeout={value}"])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"'{value}' is not a finite number" in err or "--timeout must be more than 0 and at most 1e+06" in err


@pytest.mark.parametrize("setup", ["fifo", "not-utf8", "directory"])
def test_gates_check_names_an_unreadable_file(capsys, tmp_path, setup: str) -> None:
    target = tmp_path / "README.md"
    if setup == "fifo":
        os.mkfifo(target)
    elif setup == "directory":
        target.mkdir()
    else:
        target.write_bytes(b"# gates\n\xff\n")
    code = no_hang(lambda: main(["gates", "--check", str(target)]), fifos=[target])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot read {target}: " in err


@pytest.mark.parametrize("colour", [False, True])
def test_line_100_is_printed_as_a_line_number_not_an_emoji(capsys, monkeypatch, repo: Repo, colour: bool) -> None:
    """rich read `demo-v1.yaml:100:3` as the emoji code `:100:` and printed `demo-v1.yaml💯3`."""
    if colour:
        monkeypatch.setenv("FORCE_COLOR", "1")
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    data = valid_contract()
    data["metadata"].update({f"unknown_{i:03d}": i for i in range(120)})
    path = repo.contract(data)
    code, out, _ = _pv(capsys, "validate", "--root", str(repo.root), str(path))
    assert code == 1 and "💯" not in out
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("  unknown_090:"))
    assert line >= 100 and f"demo-v1.yaml:{line}:3" in out
    assert ("\x1b[" in out) is colour  # both the coloured and the plain path were taken
