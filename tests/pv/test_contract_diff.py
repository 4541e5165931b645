"""`pv diff` classifies each change by the semver bump it needs; `pv lint --since` fails an unbumped change."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from pv.cli import main
from pv.contract_diff import Bump, diff_contracts, judge, next_version, version_bump
from pv.models import Contract
from tests.pv.conftest import Repo, falsifier, valid_contract


def _contract(data: dict) -> Contract:
    return Contract.model_validate(data)


def _base() -> dict:
    data = valid_contract("demo-v1", falsifiers=[
        falsifier("FALSIFY-DEMO-001", "test_one"),
        falsifier("FALSIFY-DEMO-002", "test_two", ship_blocking=False, loss_floor=1.0)])
    data["equations"]["bound"]["preconditions"] = ["x >= 0"]
    data["equations"]["bound"]["invariants"] = ["x <= y"]
    return data


def _changed(edit) -> dict:
    data = copy.deepcopy(_base())
    edit(data)
    return data


def _bump(edit) -> Bump:
    changes = diff_contracts(_contract(_base()), _contract(_changed(edit)))
    return max((c.bump for c in changes), default=Bump.NONE)


def _fts(d: dict) -> list[dict]:
    return d["falsification_tests"]


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: _fts(d).pop(), Bump.MAJOR),  # removing a falsifier
    (lambda d: _fts(d)[0].update(ship_blocking=False), Bump.MAJOR),  # weakening: made advisory
    (lambda d: _fts(d)[0].pop("test"), Bump.MAJOR),  # weakening: unbound
    (lambda d: _fts(d)[1].pop("loss_floor"), Bump.MAJOR),  # weakening: the sanity floor dropped
    (lambda d: d["equations"].pop("bound") and d["proof_obligations"].clear(), Bump.MAJOR),
    (lambda d: d["equations"]["bound"]["invariants"].clear(), Bump.MAJOR),
    (lambda d: d["equations"]["bound"]["preconditions"].append("y > 0"), Bump.MAJOR),  # narrower claim
    (lambda d: _fts(d).append(falsifier("FALSIFY-DEMO-003", "test_three")), Bump.MINOR),  # adding one
    (lambda d: _fts(d)[0].update(rule="x < y, strictly"), Bump.MINOR),
    (lambda d: _fts(d)[0].update(test="test_other"), Bump.MINOR),
    (lambda d: _fts(d)[1].update(ship_blocking=True), Bump.MINOR),  # strengthening
    (lambda d: _fts(d)[1].update(loss_floor=2.0), Bump.MINOR),
    (lambda d: d["metadata"].update(status="PROPOSED"), Bump.MINOR),
    (lambda d: d["equations"]["bound"]["invariants"].append("y >= 0"), Bump.MINOR),
    (lambda d: _fts(d)[0].update(if_fails="Look at the bound first; then the caller."), Bump.PATCH),  # reworded
    (lambda d: d["metadata"].update(description="Reworded."), Bump.PATCH),
    (lambda d: _fts(d)[0].update(rule="x  <=\n y"), Bump.NONE),  # re-folding whitespace is no change
    (lambda d: d["metadata"].update(version="1.2.0", updated="2026-03-01"), Bump.NONE),  # the bump itself
])
def test_each_change_gets_its_bump(edit, expected: Bump) -> None:
    assert _bump(edit) is expected


def test_removed_falsifier_is_named() -> None:
    changes = diff_contracts(_contract(_base()), _contract(_changed(lambda d: _fts(d).pop(0))))
    assert [(c.bump, c.what) for c in changes] == [(Bump.MAJOR, "falsifier removed: FALSIFY-DEMO-001")]


def test_judge_requires_bump_and_changelog_entry() -> None:
    old = _contract(_base())

    def reword_and_bump(d: dict, version: str, entry: bool) -> None:
        _fts(d)[0]["if_fails"] = "reworded"
        d["metadata"]["version"] = version
        if entry:
            d["metadata"]["changelog"].append({"version": version, "date": "2026-02-02", "change": "reword"})

    unbumped = judge(old, _contract(_changed(lambda d: _fts(d)[0].update(if_fails="reworded"))))
    assert unbumped.required is Bump.PATCH and unbumped.actual is Bump.NONE and not unbumped.ok
    assert "need a patch bump (to 1.1.1 at least), but the version stayed 1.1.0" in unbumped.problems[0]
    no_entry = judge(old, _contract(_changed(lambda d: reword_and_bump(d, "1.1.1", False))))
    assert no_entry.problems == ["no new changelog entry for 1.1.1"]
    assert judge(old, _contract(_changed(lambda d: reword_and_bump(d, "1.1.1", True)))).ok
    removed = judge(old, _contract(_changed(lambda d: (_fts(d).pop(), reword_and_bump(d, "1.2.0", True)))))
    assert removed.required is Bump.MAJOR and removed.actual is Bump.MINOR and not removed.ok


def test_version_arithmetic() -> None:
    assert version_bump("1.2.3", "2.0.0") is Bump.MAJOR
    assert version_bump("1.2.3", "1.3.0") is Bump.MINOR
    assert version_bump("1.2.3", "1.2.4") is Bump.PATCH
    assert version_bump("1.2.3", "1.2.3") is Bump.NONE
    assert version_bump("1.2.3", "1.2.2") is None
    assert [next_version("1.2.3", b) for b in Bump] == ["1.2.3", "1.2.4", "1.3.0", "2.0.0"]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def git_repo(repo: Repo) -> Repo:
    repo.write("tests/test_demo.py", "import pytest\n\n\n@pytest.mark.falsifies('FALSIFY-DEMO-001')\n"
                                     "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n")
    repo.contract(_base())
    _git(repo.root, "init", "-q")
    _git(repo.root, "add", ".")
    _git(repo.root, "commit", "-qm", "base")
    return repo


def test_pv_diff_cli_on_files_and_revisions(git_repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = git_repo.root
    path = root / "contracts" / "demo-v1.yaml"
    data = _changed(lambda d: _fts(d).pop())
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    args = ["diff", "--root", str(root), "HEAD:contracts/demo-v1.yaml", str(path)]
    assert main([*args, "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["required_bump"] == "major" and out["version_bump"] == "none"
    assert out["changes"] == [{"bump": "major", "where": "falsification_tests",
                               "what": "falsifier removed: FALSIFY-DEMO-002"}]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert "required bump: major (1.1.0 -> 2.0.0 at least)" in text
    data["metadata"]["version"] = "2.0.0"
    data["metadata"]["changelog"].append({"version": "2.0.0", "date": "2026-03-01", "change": "drop 002"})
    data["metadata"]["updated"] = "2026-03-01"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(args) == 0
    assert main(["diff", "--root", str(root), "nosuchref:contracts/demo-v1.yaml", str(path)]) == 2
    assert "unknown git revision 'nosuchref'" in capsys.readouterr().err


def test_lint_since_fails_an_unbumped_change_and_passes_a_bumped_one(git_repo: Repo,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = git_repo.root
    path = root / "contracts" / "demo-v1.yaml"
    lint = ["lint", "--root", str(root), "--since", "HEAD"]
    assert main(lint) == 0  # nothing changed since HEAD
    capsys.readouterr()
    path.write_text(path.read_text().replace("if_fails: fix it", "if_fails: fix the bound", 1))
    assert main([*lint, "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    (gate,) = [g for g in out["gates"] if g["name"] == "version-bump"]
    assert gate["errors"] == 1
    (d,) = [d for d in out["diagnostics"] if d["code"] == "version-bump"]
    assert d["key_path"] == "metadata.version" and d["line"] is not None
    assert "if_fails changed (patch)" in d["message"] and "set version: 1.1.1" in d["hint"]
    data = yaml.safe_load(path.read_text())
    data["metadata"].update(version="1.1.1", updated="2026-03-01")
    data["metadata"]["changelog"].append({"version": "1.1.1", "date": "2026-03-01", "change": "Reword if_fails."})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(lint) == 0
    assert "14/14 gates PASS" in capsys.readouterr().out
    assert main(["lint", "--root", str(root)]) == 0
    assert "13/13 gates PASS" in capsys.readouterr().out  # without --since the gate does not run (nor pretend)
    assert main(["lint", "--root", str(root), "--since", "v9-nope"]) == 2
    assert "--since: unknown git revision" in capsys.readouterr().err
    (root / "contracts" / "new-v1.yaml").write_text(yaml.safe_dump(valid_contract(
        "new-v1", falsifiers=[falsifier("FALSIFY-NEW-001", "test_two")]), sort_keys=False))
    assert main(lint) == 0  # a contract that did not exist at the ref needs no bump
