"""Falsifier FALSIFY-TOK-011: contracts/apr-tokenize-encode-corpus-v1.yaml validates and lints clean.

Linting runs over every contract (the orphan and id-uniqueness gates need them all); only errors
located in this contract count. The negative case lints a copy of the repo with this contract
broken three ways - a binding to a renamed test, a reference to a missing file, an obligation that
names no equation - and requires each to be reported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pv.diagnostics import Severity
from pv.lint import lint
from pv.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
NAME = "apr-tokenize-encode-corpus-v1.yaml"


def contract_errors(root: Path, name: str = NAME) -> list[str]:
    """Lint errors located in contract file ``name`` (every contract is linted: some gates need them all)."""
    ws = Workspace(root)
    report = lint(ws, ws.contract_files, strict_test_binding=True)
    return [d.one_line() for r in report.results for d in r.diagnostics
            if d.severity is Severity.ERROR and d.file.endswith(name)]


def copy_repo(tmp: Path) -> Path:
    """What lint reads of the repository, copied into ``tmp`` for a negative case to break."""
    skip = shutil.ignore_patterns("__pycache__", "data", "*.bin")
    for name in ("contracts", "falsifiers", "tests", "tokenizer", "trainer", "safeio", "apr", "pv", "benchmarks"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp / name, ignore=skip)
    (tmp / "pyproject.toml").write_text("")
    return tmp


@pytest.mark.falsifies("FALSIFY-TOK-011")
def test_tokenize_contract_validates_and_lints() -> None:
    assert (ROOT / "contracts" / NAME).is_file()
    assert contract_errors(ROOT) == []


@pytest.mark.falsifies("FALSIFY-TOK-011")
def test_lint_reports_a_broken_tokenize_contract(tmp_path: Path) -> None:
    copy_repo(tmp_path)
    assert contract_errors(tmp_path) == []
    path = tmp_path / "contracts" / NAME
    text = path.read_text()
    broken = (
        text.replace("::test_every_emitted_id_below_vocab", "::test_every_id_below_vocab_renamed")
        .replace("    - tokenizer/shards.py\n", "    - tokenizer/no_such_module.py\n")
        .replace("applies_to: [shard_layout]", "applies_to: [shard_layouts]")
    )
    assert broken != text
    path.write_text(broken)
    errors = contract_errors(tmp_path)
    assert any("test-binding" in e and "FALSIFY-TOK-001" in e for e in errors), errors
    assert any("references" in e and "no_such_module.py" in e for e in errors), errors
    assert any("obligations" in e and "shard_layouts" in e for e in errors), errors
