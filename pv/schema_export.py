"""The committed JSON Schema (contracts/schema/contract.schema.json) is generated from pv.models.

Editors use it for completion and inline errors; a test fails when the committed copy drifts
from what the models generate, so the two can never disagree silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from pv.models import Contract

SCHEMA_PATH = Path("contracts") / "schema" / "contract.schema.json"
SCHEMA_ID = "https://provable-train.dev/schema/contract.schema.json"


def contract_json_schema() -> dict:
    schema = Contract.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_schema() -> str:
    return json.dumps(contract_json_schema(), indent=2, sort_keys=True) + "\n"
