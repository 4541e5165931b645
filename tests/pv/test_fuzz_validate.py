"""Hypothesis: no input, however malformed, makes `pv validate` crash.

Every run must end with exit 0 (valid) or exit 1 with at least one located diagnostic; an
exception escaping the CLI is the bug this guards against.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pv.cli import main
from tests.pv.conftest import valid_contract

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
YAML_PIECES = st.sampled_from(
    [*"abc:-[]{}&*!|>'\"#%@`,?\n  \t019.\x00\x85", "FALSIFY", "metadata", "<<", "!!", "&a", "*a"]
)
yaml_text = st.lists(YAML_PIECES, max_size=40).map("".join)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
                    st.dates())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


VALID = valid_contract()
PATHS = [p for p in _paths(VALID) if p]


def _check(tmp_path: Path, capsys, text: str | bytes) -> None:
    path = tmp_path / "demo-v1.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    code = main(["validate", "--root", str(tmp_path), "--format", "json", str(path)])
    payload = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    if code == 1:
        assert payload["diagnostics"], "a failure must come with at least one diagnostic"
        assert all(d["file"] == "demo-v1.yaml" and d["message"] for d in payload["diagnostics"])
        located = [d for d in payload["diagnostics"] if d["line"] is not None]
        assert located or any("UTF-8" in d["message"] for d in payload["diagnostics"]), payload


@SETTINGS
@given(text=yaml_text)
def test_random_yaml_text_never_crashes(tmp_path: Path, capsys, text: str) -> None:
    _check(tmp_path, capsys, text)


@SETTINGS
@given(raw=st.binary(max_size=60))
def test_random_bytes_never_crash(tmp_path: Path, capsys, raw: bytes) -> None:
    _check(tmp_path, capsys, raw)


@SETTINGS
@given(path=st.sampled_from(PATHS), value=values, delete=st.booleans())
def test_mutated_valid_contract_never_crashes(tmp_path: Path, capsys, path, value, delete: bool) -> None:
    data = json.loads(json.dumps(VALID))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _check(tmp_path, capsys, yaml.safe_dump(data, sort_keys=False))
