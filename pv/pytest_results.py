"""Per-test outcomes of a pytest run, as ``pv verify`` and ``pytest --pv-ledger`` exchange them.

Plain data, no pytest import: pv's commands must start without pytest installed (it is a dev
dependency). The collecting plugin object lives in ``pv.pytest_collector``. Records speak only in
pytest node ids; mapping them to falsifier ids is ``pv.verify``'s job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

INPUTS_PROPERTY = "pv_inputs"  # the user property pv.pytest_inputs attaches to each teardown report

@dataclass
class TestRecord:
    __test__ = False  # not a pytest test class, whatever its name

    node_id: str
    outcome: str = "pass"  # pass | fail | error | skipped
    reason: str | None = None
    duration_s: float = 0.0
    inputs: list[str] | None = None  # absolute paths / glob: keys the test depended on (pv.inputs_hook)


@dataclass
class CollectedResults:
    tests: dict[str, TestRecord] = field(default_factory=dict)
    collect_errors: dict[str, str] = field(default_factory=dict)  # file node id -> message
    exit_status: int | None = None

    def to_json(self) -> str:
        return json.dumps({"tests": [asdict(t) for t in self.tests.values()],
                           "collect_errors": self.collect_errors, "exit_status": self.exit_status}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> CollectedResults:
        raw = json.loads(text)
        tests = {t["node_id"]: TestRecord(**t) for t in raw.get("tests", [])}
        return cls(tests=tests, collect_errors=dict(raw.get("collect_errors", {})),
                   exit_status=raw.get("exit_status"))


def base_node_id(node_id: str) -> str:
    """``file.py::test_x[param]`` -> ``file.py::test_x`` (a binding covers every parametrization)."""
    if node_id.endswith("]") and "[" in node_id:
        return node_id[: node_id.index("[", node_id.rfind("::") + 2 if "::" in node_id else 0)]
    return node_id


def write_results(path: Path, results: CollectedResults) -> None:
    path.write_text(results.to_json(), encoding="utf-8")


def fold_inputs(records: list[TestRecord]) -> list[str] | None:
    """The union of the inputs of every case of one test; None when any case has no record of them."""
    if not records or any(r.inputs is None for r in records):
        return None
    return sorted({p for r in records for p in r.inputs or ()})
