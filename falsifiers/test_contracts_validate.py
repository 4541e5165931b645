"""FALSIFY-ARCH-008: the shipped contracts validate and lint clean under pv (strict test binding).

The negative cases re-lint a copy of the repo with one contract broken (a version that runs ahead
of its changelog, a binding to a renamed test) and require the matching gate to turn red, so this
falsifier cannot pass vacuously.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pv.lint import lint
from pv.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
ARCH = "apr-pretrain-arch-polymorphic-v1.yaml"


def _failed_gates(root: Path) -> dict[str, list[str]]:
    ws = Workspace(root)
    report = lint(ws, ws.contract_files, strict_test_binding=True)
    return {r.name: [d.one_line() for d in r.diagnostics] for r in report.results if not r.passed}


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    for name in ("contracts", "falsifiers", "tests"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
    for name in ("trainer", "tokenizer", "safeio", "apr", "benchmarks"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pyproject.toml").write_text("")
    return tmp_path


@pytest.mark.falsifies("FALSIFY-ARCH-008")
def test_shipped_contracts_validate_and_lint() -> None:
    files = Workspace(ROOT).contract_files
    assert any(f.name == ARCH for f in files)
    assert _failed_gates(ROOT) == {}


@pytest.mark.falsifies("FALSIFY-ARCH-008")
def test_lint_turns_red_when_the_contract_is_broken(repo_copy: Path) -> None:
    assert _failed_gates(repo_copy) == {}
    path = repo_copy / "contracts" / ARCH
    text = path.read_text()
    version = re.search(r"^  version: (\S+)$", text, re.M)
    assert version is not None
    bumped = text.replace(f"  version: {version[1]}\n", "  version: 99.0.0\n", 1)  # no changelog entry for it
    assert bumped != text
    path.write_text(bumped)
    assert set(_failed_gates(repo_copy)) == {"changelog"}
    path.write_text(text.replace("::test_gqa_7_to_1_matches_repeated_kv_mha", "::test_gqa_matches_mha_renamed"))
    failed = _failed_gates(repo_copy)
    assert set(failed) == {"test-binding"}
    assert "did you mean" in failed["test-binding"][0]
