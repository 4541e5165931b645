"""Loading reports every bad input as a located, one-line diagnostic."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from pv.loader import load_contract
from tests.pv.conftest import falsifier, no_hang, valid_contract


def _load(tmp_path: Path, text: str, name: str = "demo-v1.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_contract(path, name)


def test_valid_contract_loads(tmp_path: Path) -> None:
    loaded = _load(tmp_path, yaml.safe_dump(valid_contract()))
    assert loaded.ok, [d.one_line() for d in loaded.diagnostics]
    assert loaded.contract.metadata.version == "1.1.0"


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        ("a: 1\na: 2\n", 2, 1, "duplicate key 'a' (first defined on line 1)"),
        ("a: [1, 2\n", 2, 1, "malformed YAML"),
        ("a: !!python/object:os.system x\n", 1, 4, "unsupported tag"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", 3, 3, "merge keys"),
        ("1: x\n", 1, 1, "is not a string"),
        ("- a\n- b\n", 1, 1, "top level is a list"),
        ("", 1, 1, "empty document"),
    ],
)
def test_yaml_problems_are_located(tmp_path: Path, text: str, line: int, col: int, fragment: str) -> None:
    loaded = _load(tmp_path, text)
    assert loaded.contract is None
    assert len(loaded.diagnostics) == 1
    diag = loaded.diagnostics[0]
    assert fragment in diag.message
    assert (diag.line, diag.col) == (line, col)


def test_recursive_alias_is_rejected(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "a: &x [1, *x]\n")
    assert loaded.contract is None
    assert "recursive alias" in loaded.diagnostics[0].message


def test_invalid_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "demo-v1.yaml"
    path.write_bytes(b"metadata:\n  id: \xff\n")
    diag = load_contract(path).diagnostics[0]
    assert "UTF-8" in diag.message


def test_schema_errors_point_at_the_offending_key(tmp_path: Path) -> None:
    text = yaml.safe_dump(valid_contract(), sort_keys=False)
    text = text.replace("  status: DRAFT", "  statuss: DRAFT").replace("ship_blocking: true", "ship_blocking: 'yes'")
    loaded = _load(tmp_path, text)
    by_path = {d.key_path: d for d in loaded.diagnostics}
    unknown = by_path["metadata.statuss"]
    # one finding for a renamed key, not "unknown key" plus "missing key" (issue 16, item 16)
    assert unknown.message == "`statuss` is not a key; did you mean `status`, which is missing?"
    assert unknown.hint == "rename `statuss:` to `status:`"
    assert text.splitlines()[unknown.line - 1].strip().startswith("statuss:")
    assert "metadata.status" not in by_path
    assert len(loaded.diagnostics) == 2  # the renamed key and the non-boolean ship_blocking
    boolean = by_path["falsification_tests[0].ship_blocking"]
    assert "not a boolean" in boolean.message
    assert "ship_blocking" in text.splitlines()[boolean.line - 1]


def test_an_unknown_key_that_renames_nothing_stays_one_plain_finding(tmp_path: Path) -> None:
    data = valid_contract()
    data["metadata"]["statuss"] = "DRAFT"  # status is still there: a stray key, not a rename
    (diag,) = _load(tmp_path, yaml.safe_dump(data, sort_keys=False)).diagnostics
    assert diag.message == "unknown key 'statuss'" and diag.hint == "did you mean `status`?"


def test_enum_typo_gets_a_suggestion(tmp_path: Path) -> None:
    data = valid_contract()
    data["metadata"]["status"] = "FUNCTIONL"
    diag = _load(tmp_path, yaml.safe_dump(data)).diagnostics[0]
    assert diag.key_path == "metadata.status"
    assert diag.hint == "did you mean `FUNCTIONAL`?"


def test_unquoted_version_number_gets_a_quoting_hint(tmp_path: Path) -> None:
    text = yaml.safe_dump(valid_contract(), sort_keys=False)
    text = text.replace("version: 1.1.0\n  status", "version: 1.1\n  status")
    diag = next(d for d in _load(tmp_path, text).diagnostics if d.key_path == "metadata.version")
    assert "expected a string" in diag.message
    assert diag.hint == "quote it: '1.1'"


def test_bad_falsifier_id_form(tmp_path: Path) -> None:
    data = valid_contract()
    data["falsification_tests"][0]["id"] = "FALSIFY-DEMO-1"
    diag = _load(tmp_path, yaml.safe_dump(data)).diagnostics[0]
    assert diag.key_path == "falsification_tests[0].id"
    assert "FALSIFY-<AREA>-NNN" in diag.hint


def test_id_must_match_file_name(tmp_path: Path) -> None:
    loaded = _load(tmp_path, yaml.safe_dump(valid_contract("other-v1")))
    assert loaded.contract is None
    assert "does not match the file name 'demo-v1'" in loaded.diagnostics[0].message


def test_missing_file(tmp_path: Path) -> None:
    loaded = load_contract(tmp_path / "nope.yaml")
    assert loaded.diagnostics[0].message == "file not found"


@pytest.mark.parametrize(("value", "message"), [
    (".nan", "nan is not a finite number"),
    (".inf", "inf is not a finite number"),
    ("-.inf", "-inf is not a finite number"),
    ("1" + "0" * 400, "is too large to be a finite number"),
], ids=["nan", "inf", "-inf", "400-digit-int"])
def test_a_non_finite_loss_floor_is_a_located_schema_error(tmp_path: Path, value: str, message: str) -> None:
    """Issue 16 item 7: `loss_floor: .nan` validated, and NaN compares false with every loss: no guard at all."""
    data = valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "LIVE: true", metrics_file="m.json",
                                                check="val_loss < 2", loss_floor=0.5)])
    text = yaml.safe_dump(data, sort_keys=False).replace("loss_floor: 0.5", f"loss_floor: {value}")
    (diag,) = _load(tmp_path, text).diagnostics
    assert diag.key_path == "falsification_tests[0].loss_floor" and diag.line is not None
    assert message in diag.message
    assert diag.hint == "write a finite number for loss_floor: NaN or infinity would switch the bound off"


def test_a_5000_digit_version_is_a_located_schema_error(tmp_path: Path) -> None:
    """Issue 16 item 1: it validated, then `int()` refused it deep inside lint and promote (exit 70)."""
    huge = "1." + "9" * 5000 + ".0"
    data = valid_contract(version=huge)
    data["metadata"]["changelog"][-1]["version"] = huge
    diags = _load(tmp_path, yaml.safe_dump(data, sort_keys=False, width=10**6)).diagnostics
    assert [d.key_path for d in diags] == ["metadata.version", "metadata.changelog[1].version"]
    assert all(d.line is not None for d in diags)
    assert diags[0].message.endswith("…(5006 chars) has the wrong form for version")
    assert "each number at most 18 digits" in diags[0].hint
    assert len(diags[0].one_line()) < 400  # the message quotes the input, it does not reprint it


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_contract_path_that_is_not_a_regular_file_is_named(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "demo-v1.yaml"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    (diag,) = no_hang(lambda: load_contract(path, "demo-v1.yaml"), fifos=[path]).diagnostics
    shown = "a FIFO (named pipe)" if kind == "fifo" else "a directory"
    assert diag.message == f"is {shown}, not a regular file, so not a contract file"


def _work_to_report_unknown_keys(tmp_path: Path, n: int) -> int:
    """Python and C function calls made to load a contract with ``n`` unknown keys (deterministic)."""
    data = valid_contract()
    data["metadata"].update({f"extra_key_{i}": i for i in range(n)})
    path = tmp_path / "demo-v1.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    calls = 0

    def count(frame, event, arg) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        loaded = load_contract(path, "demo-v1.yaml")
    finally:
        sys.setprofile(None)
    assert len(loaded.diagnostics) == n
    last = loaded.diagnostics[-1]
    assert last.message == f"unknown key 'extra_key_{n - 1}'" and last.line == text_line(path, f"extra_key_{n - 1}:")
    return calls


def text_line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_reporting_unknown_keys_costs_linear_work(tmp_path: Path) -> None:
    """Issue 16 item 5: locating each error rescanned the mapping's keys: 50k keys took over 120 s.

    Counted in function calls, not seconds, so the test is exact on a loaded machine. Four times the
    keys must cost about four times the work (it was 8.8x at these sizes, and growing with n);
    benchmarks/bench_pv.py --unknown-keys shows the wall time at 10k and 50k keys.
    """
    small, large = _work_to_report_unknown_keys(tmp_path, 500), _work_to_report_unknown_keys(tmp_path, 2000)
    assert large / small < 4.5, f"{large} calls for 2000 keys vs {small} for 500"
