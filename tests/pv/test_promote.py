"""`pv promote` edits the YAML round-trip (comments, order, style kept) and refuses with exact reasons."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pv.cli import main
from pv.enums import Status
from pv.ledger import Ledger, Outcome, write_ledger
from pv.loader import load_contract
from pv.promote import promote
from pv.requirements import STATUS_RULES
from pv.workspace import Workspace
from tests.pv.conftest import Repo, recorded

CONTRACT = """\
# Top comment: why this contract exists.
metadata:
  id: demo-v1
  version: 1.1.0   # trailing comment on version
  status: PARTIAL_ALGORITHM_LEVEL
  kind: tooling
  created: 2026-01-01
  updated: 2026-02-01
  author: tests
  description: >-
    A folded description that
    spans two lines.
  references: []
  depends_on: []
  changelog:
    - version: 1.0.0
      date: 2026-01-01
      change: first
    # a comment between entries
    - version: 1.1.0
      date: 2026-02-01
      change: "second, quoted"

equations:
  bound:
    formula: "x <= y"   # the bound is <=, not <

proof_obligations:
  - type: bound
    property: x never exceeds y
    applies_to: [bound]

falsification_tests:
  - id: FALSIFY-DEMO-001
    rule: x <= y
    prediction: holds
    test: falsifiers/test_demo.py::test_one
    if_fails: fix it
    ship_blocking: true
  - id: FALSIFY-DEMO-002
    rule: x <= y at equality
    prediction: holds
    test: falsifiers/test_demo.py::test_two
    if_fails: fix it
    ship_blocking: true
"""

TESTS = "def test_one():\n    assert True\n\ndef test_two():\n    assert True\n"
T = "falsifiers/test_demo.py"


@pytest.fixture
def demo(repo: Repo) -> Path:
    repo.write(T, TESTS)
    return repo.write("contracts/demo-v1.yaml", CONTRACT)


def record(repo: Repo, outcomes: dict[str, Outcome], **overrides) -> None:
    """A ledger as `pv verify` would write it for this (non-git) repo."""
    entries = [recorded(repo.root, fid, outcome, **{
        "reason": "skipped: needs a GPU" if outcome is Outcome.SKIPPED else None, **overrides})
        for fid, outcome in outcomes.items()]
    write_ledger(repo.root / ".pv" / "ledger.json", Ledger().merged(entries))


def test_promotion_round_trips_comments_and_bumps_version(repo: Repo, demo: Path) -> None:
    record(repo, {"FALSIFY-DEMO-001": Outcome.PASS, "FALSIFY-DEMO-002": Outcome.PASS})
    result = promote(Workspace(repo.root), demo, Status.FUNCTIONAL, date=dt.date(2026, 3, 4))
    assert result.ok and result.written, result.missing
    text = demo.read_text()
    for kept in ("# Top comment: why this contract exists.", "# trailing comment on version",
                 "# a comment between entries", '"second, quoted"', "# the bound is <=, not <",
                 "  description: >-\n    A folded description that\n    spans two lines.\n"):
        assert kept in text
    assert "  version: 1.2.0   # trailing comment on version" in text
    assert "  status: FUNCTIONAL\n" in text and "  updated: 2026-03-04\n" in text
    assert "      change: \"second, quoted\"\n    - version: 1.2.0\n      date: 2026-03-04\n" in text
    # only the promoted keys changed: every other line is byte-identical and in the same order
    old_lines, new_lines = CONTRACT.splitlines(), text.splitlines()
    changed = [line for line in new_lines if line not in old_lines]
    assert len(changed) == 3 + 3  # version, status, updated + the new changelog entry's three lines
    assert [line for line in new_lines if line in old_lines] == [
        line for line in old_lines if line in new_lines]
    loaded = load_contract(demo)
    assert loaded.ok
    entry = loaded.contract.metadata.changelog[-1]
    assert entry.change.startswith("Status PARTIAL_ALGORITHM_LEVEL -> FUNCTIONAL (pv promote): counted 2 of 2 "
                                   "non-LIVE falsifiers with a fresh pass (2 declared) in .pv/ledger.json, inputs "
                                   "digest ")
    assert "not a git checkout" not in entry.change


@pytest.mark.parametrize(("outcomes", "expected"), [
    ({"FALSIFY-DEMO-001": Outcome.PASS, "FALSIFY-DEMO-002": Outcome.FAIL}, ["FALSIFY-DEMO-002: fail in the ledger"]),
    ({"FALSIFY-DEMO-001": Outcome.PASS, "FALSIFY-DEMO-002": Outcome.SKIPPED},
     ["FALSIFY-DEMO-002: skipped in the ledger: skipped: needs a GPU"]),
    ({"FALSIFY-DEMO-001": Outcome.PASS}, ["FALSIFY-DEMO-002: no verdict in the ledger (run `pv verify`)"]),
    ({}, ["no ledger at .pv/ledger.json (run `pv verify` first)",
          "FALSIFY-DEMO-001: no verdict in the ledger (run `pv verify`)",
          "FALSIFY-DEMO-002: no verdict in the ledger (run `pv verify`)"]),
])
def test_refusal_says_exactly_what_is_missing(repo: Repo, demo: Path, outcomes, expected) -> None:
    if outcomes:
        record(repo, outcomes)
    result = promote(Workspace(repo.root), demo, Status.FUNCTIONAL)
    assert result.missing == expected
    assert demo.read_text() == CONTRACT


def test_a_changed_test_file_makes_the_verdict_stale(repo: Repo, demo: Path) -> None:
    record(repo, {"FALSIFY-DEMO-001": Outcome.PASS, "FALSIFY-DEMO-002": Outcome.PASS})
    repo.write(T, TESTS + "\ndef test_three():\n    assert True\n")
    result = promote(Workspace(repo.root), demo, Status.FUNCTIONAL)
    assert result.missing == [
        f"FALSIFY-DEMO-00{i}: ledger verdict is stale: {T} changed (run `pv verify --changed`)" for i in (1, 2)]


def test_unbound_and_unresolved_falsifiers_are_named(repo: Repo, demo: Path) -> None:
    demo.write_text(CONTRACT.replace("    test: falsifiers/test_demo.py::test_two\n", "")
                    .replace("test_demo.py::test_one", "test_demo.py::test_uno"))
    missing = promote(Workspace(repo.root), demo, Status.FUNCTIONAL).missing
    assert "unbound falsifiers: FALSIFY-DEMO-002" in missing
    assert any(m.startswith("pv lint gate test-binding:") and "test_uno" in m for m in missing)
    assert any(m.startswith("FALSIFY-DEMO-001: binding does not resolve") for m in missing)


def test_lowering_a_claim_needs_no_evidence(repo: Repo, demo: Path) -> None:
    result = promote(Workspace(repo.root), demo, Status.DRAFT, date=dt.date(2026, 3, 4))
    assert result.ok and load_contract(demo).contract.metadata.status is Status.DRAFT
    assert "lowering a claim needs no evidence" in demo.read_text()


def test_same_status_old_date_and_dry_run(repo: Repo, demo: Path) -> None:
    assert promote(Workspace(repo.root), demo, Status.PARTIAL_ALGORITHM_LEVEL).missing == [
        "the contract is already PARTIAL_ALGORITHM_LEVEL"]
    assert promote(Workspace(repo.root), demo, Status.DEPRECATED, date=dt.date(2025, 1, 1)).missing == [
        "date 2025-01-01 is before the newest changelog entry (2026-02-01); pass --date"]
    dry = promote(Workspace(repo.root), demo, Status.DEPRECATED, date=dt.date(2026, 3, 4), dry_run=True)
    assert dry.ok and not dry.written and "+  status: DEPRECATED" in dry.diff
    assert demo.read_text() == CONTRACT


def test_cli_json_and_text(repo: Repo, demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--root", str(repo.root)]
    assert main(["promote", str(demo), "--to", "functional", "--format", "json", *root]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False and payload["from"] == "PARTIAL_ALGORITHM_LEVEL" and payload["to"] == "FUNCTIONAL"
    assert "FALSIFY-DEMO-001: no verdict in the ledger (run `pv verify`)" in payload["missing"]
    assert main(["promote", str(demo), "--to", "FUNCTIONAL", *root]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and STATUS_RULES[Status.FUNCTIONAL][:40] in out
    with pytest.raises(SystemExit) as info:
        main(["promote", str(demo), "--to", "SHIPPED", *root])
    assert info.value.code == 2
    assert "unknown status 'SHIPPED'" in capsys.readouterr().err


def test_a_5000_digit_version_is_bad_input_with_its_location(repo: Repo, demo: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 1: `int()` of the version raised deep inside promote: a traceback and exit 70."""
    huge = "1." + "9" * 5000 + ".0"
    demo.write_text(CONTRACT.replace("version: 1.1.0", f"version: {huge}"))
    code = main(["promote", str(demo), "--to", "FUNCTIONAL", "--root", str(repo.root)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert "the contract does not validate: contracts/demo-v1.yaml:" in out and "at metadata.version" in out
    assert "fix: use a semantic version like 1.2.0, each number at most 18 digits" in out
    assert demo.read_text().count("9" * 5000) == 2  # untouched


@pytest.mark.parametrize("style", ["plain", "folded"])
def test_blank_line_after_the_changelog_survives_the_appended_entry(style: str) -> None:
    from pv.yaml_edit import edit_yaml_text, promotion_mutation

    change = "change: plain words" if style == "plain" else "change: >-\n        folded\n        words"
    text = ("metadata:\n  status: DRAFT\n  version: 1.0.0\n  updated: 2026-01-01\n  changelog:\n"
            f"    - version: 1.0.0\n      date: 2026-01-01\n      {change}\n\n# next section\nequations: {{}}\n")
    out = edit_yaml_text(text, promotion_mutation("PROPOSED", "1.1.0", dt.date(2026, 2, 1), "promoted"))
    assert out.endswith("      change: promoted\n\n# next section\nequations: {}\n"), out
    assert out.count("\n\n") == 1
