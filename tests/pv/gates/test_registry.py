"""The gate registry: every gate describes itself once, has its own tests, and the README's table follows it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from pv.cli import main
from pv.commands.gates import BEGIN, END
from pv.gates import GATES
from pv.lint_context import GateInfo
from tests.pv.conftest import Repo
from tests.pv.gates.conftest import good, run_gates

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent


def test_good_contract_passes_every_gate(repo: Repo) -> None:
    good(repo)
    results, report = run_gates(repo)
    assert report.passed, [d.one_line() for d in report.diagnostics]
    assert list(results) == [g.GATE.name for g in GATES]


@pytest.mark.parametrize("module", GATES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_gate_declares_itself_and_has_its_own_tests(module) -> None:
    assert isinstance(module.GATE, GateInfo)
    assert callable(module.check)
    assert inspect.getdoc(module), "the module docstring is the gate's rationale"
    assert not module.__name__.rsplit(".", 1)[-1].startswith("test_"), "a gate module must not look like a test"
    assert (HERE / f"test_{module.__name__.rsplit('.', 1)[-1]}.py").is_file()


def test_gate_names_are_unique() -> None:
    names = [g.GATE.name for g in GATES]
    assert len(names) == len(set(names))


def test_readme_gate_table_is_generated_from_the_registry(capsys) -> None:
    assert main(["gates", "--check", str(ROOT / "README.md")]) == 0, capsys.readouterr().err


def test_a_stale_table_fails_the_check_and_write_regenerates_it(tmp_path: Path, capsys) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    stale.write_text(readme.replace("| 4 | obligations |", "| 4 | obligations (renamed?) |"), encoding="utf-8")
    assert main(["gates", "--check", str(stale)]) == 1
    assert "is stale: run `pv gates --write" in capsys.readouterr().err
    assert main(["gates", "--write", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == readme


def test_a_document_without_markers_is_a_usage_error(tmp_path: Path, capsys) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# no table here\n", encoding="utf-8")
    assert main(["gates", "--check", str(doc)]) == 2
    err = capsys.readouterr().err
    assert BEGIN in err and END in err
