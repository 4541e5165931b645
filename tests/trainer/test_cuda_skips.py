"""On a machine without CUDA the CUDA-marked tests are skipped with a reason, and pv records them as skipped.

A GPU test that "passes" on a CPU machine would be a lie in the verdict ledger. This runs
tests/trainer/test_cuda.py the way ``pv verify`` runs bound tests (one pytest subprocess with pv's
result collector) and folds each node into the verdict pv would record.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pv.ledger import Outcome
from pv.pytest_results import CollectedResults
from pv.verify import outcome_for

ROOT = Path(__file__).resolve().parents[2]
CUDA_TESTS = "tests/trainer/test_cuda.py"


def _test_names() -> list[str]:
    tree = ast.parse((ROOT / CUDA_TESTS).read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present: test_cuda.py runs for real here")
def test_cuda_tests_are_recorded_as_skipped_not_passed(tmp_path: Path) -> None:
    results_file = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         "--pv-results", str(results_file), "-m", "cuda", CUDA_TESTS],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # all skipped is a clean session
    results = CollectedResults.from_json(results_file.read_text(encoding="utf-8"))
    names = _test_names()
    assert len(names) >= 7, names
    for name in names:
        outcome, reason, _ = outcome_for(f"{CUDA_TESTS}::{name}", results, proc.returncode)
        assert outcome is Outcome.SKIPPED, (name, outcome, reason)
        assert "needs a CUDA device" in (reason or ""), (name, reason)
    assert not any(r.outcome == "pass" for r in results.tests.values()), json.dumps(
        {k: v.outcome for k, v in results.tests.items()})
    # Every test in the module is selected by the marker, so gpu_check's `-m cuda` misses none.
    assert {r.node_id.split("::")[1].split("[")[0] for r in results.tests.values()} == set(names)
