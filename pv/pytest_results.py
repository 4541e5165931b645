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
    timed_out: bool = False  # the run was killed on its timeout; ``tests`` holds what finished before
    unfinished: list[str] = field(default_factory=list)  # started, never finished (running at the kill)
    collected: list[str] = field(default_factory=list)  # what the killed run meant to run (when known)

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


def progress_path(results_path: Path) -> Path:
    """Where the collector appends each finished test while the run goes on (read after a kill)."""
    return results_path.with_name(results_path.name + ".progress.jsonl")


def append_progress(path: Path, event: dict) -> None:
    """One JSON line per event, flushed at once: a killed run keeps everything that finished."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")


def read_progress(path: Path) -> CollectedResults:
    """The tests that finished before a run was killed, and the ones still running at the kill."""
    results = CollectedResults(timed_out=True)
    started: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return results
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # the last line may be cut short by the kill
        if "start" in event:
            started.append(event["start"])
        elif "collected" in event:
            results.collected = list(event["collected"])
        elif "test" in event:
            record = TestRecord(**event["test"])
            results.tests[record.node_id] = record
        elif "collect_error" in event:
            where, message = event["collect_error"]
            results.collect_errors[where] = message
    results.unfinished = [n for n in dict.fromkeys(started) if n not in results.tests]
    return results
