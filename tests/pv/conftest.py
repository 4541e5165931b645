"""Throwaway repos for pv tests: a contracts/ folder, test folders, and a valid contract factory."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml


def valid_contract(cid: str = "demo-v1", *, falsifiers: list[dict[str, Any]] | None = None, **meta: Any) -> dict:
    """A minimal contract that passes every gate when its bound tests exist."""
    base = {
        "metadata": {
            "id": cid,
            "version": "1.1.0",
            "status": "DRAFT",
            "kind": "tooling",
            "created": "2026-01-01",
            "updated": "2026-02-01",
            "author": "tests",
            "description": "A demo contract.",
            "references": [],
            "depends_on": [],
            "changelog": [
                {"version": "1.0.0", "date": "2026-01-01", "change": "first"},
                {"version": "1.1.0", "date": "2026-02-01", "change": "second"},
            ],
        },
        "equations": {"bound": {"formula": "x <= y"}},
        "proof_obligations": [{"type": "bound", "property": "x never exceeds y", "applies_to": ["bound"]}],
        "falsification_tests": falsifiers if falsifiers is not None else [falsifier("FALSIFY-DEMO-001")],
    }
    base["metadata"].update(meta)
    return base


def falsifier(fid: str, test: str | None = None, **extra: Any) -> dict:
    out = {"id": fid, "rule": "x <= y", "prediction": "holds", "if_fails": "fix it", "ship_blocking": True}
    if test is not None:
        out["test"] = test
    out.update(extra)
    return out


class Repo:
    def __init__(self, root: Path):
        self.root = root
        (root / "contracts").mkdir()
        (root / "falsifiers").mkdir()
        (root / "tests").mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")

    def contract(self, data: dict, name: str | None = None) -> Path:
        cid = name or data["metadata"]["id"]
        path = self.root / "contracts" / f"{cid}.yaml"
        path.write_text(yaml.safe_dump(copy.deepcopy(data), sort_keys=False))
        return path

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)

# tests/pv/data holds fixture repositories (their falsifiers/ are run by pv inside temp copies).
collect_ignore_glob = ["data/*"]
