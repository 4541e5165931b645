"""The committed JSON Schema is exactly what the models generate, and it agrees with them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from pv.schema_export import SCHEMA_PATH, contract_json_schema, render_schema
from tests.pv.conftest import valid_contract

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_models() -> None:
    committed = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == render_schema(), "contracts/schema/contract.schema.json is stale: run `pv schema --write`"


def test_schema_accepts_shipped_contracts_and_rejects_unknown_keys() -> None:
    schema = contract_json_schema()
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for path in sorted((ROOT / "contracts").glob("*.yaml")):
        data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        assert not list(validator.iter_errors(data)), path
    bad = json.loads(json.dumps(valid_contract(), default=str))
    bad["metadata"]["statuss"] = "DRAFT"
    assert any("statuss" in e.message for e in validator.iter_errors(bad))
