"""Gate schema: every file loads and validates."""

from __future__ import annotations

from tests.pv.conftest import Repo
from tests.pv.gates.conftest import gate, good


def test_valid_contracts_pass(repo: Repo) -> None:
    good(repo)
    assert gate(repo, "schema").passed


def test_fails_on_invalid_file(repo: Repo) -> None:
    good(repo)
    repo.write("contracts/broken-v1.yaml", "metadata: [\n")
    result = gate(repo, "schema")
    assert not result.passed
    assert result.diagnostics[0].file == "contracts/broken-v1.yaml"
