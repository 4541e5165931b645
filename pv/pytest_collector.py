"""The pytest plugin object that records outcomes, used by ``pv verify`` and ``pytest --pv-ledger``.

Registered by ``pv.pytest_plugin`` only when one of pv's options is given, so a plain ``pytest``
run pays nothing for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from pv.pytest_results import INPUTS_PROPERTY, CollectedResults, TestRecord, append_progress, base_node_id

MAX_REASON = 2000
_UNFINISHED = "the test started but its call phase never reported (pytest.exit() or an interrupt inside it?)"


def _short(text: str | None) -> str | None:
    if not text:
        return None
    text = text.strip()
    return text if len(text) <= MAX_REASON else "…" + text[-MAX_REASON:]


def _failure_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if message:
        return _short(message)
    return _short(report.longreprtext.strip().splitlines()[-1] if report.longreprtext.strip() else None)


class Selector:
    """Keeps only the selected node ids (any parametrization of them); registered in every process."""

    def __init__(self, select: set[str]) -> None:
        self.select = select

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            (keep if base_node_id(item.nodeid) in self.select else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


class ResultCollector:
    """A pytest plugin object: records outcomes (and inputs).

    With ``progress``, reports each test (all its parametrizations) as it finishes, so ``pv verify``
    can show progress while pytest runs. With ``crash_log``, appends every test start and finished
    record as it happens, so a run killed on its timeout still tells which tests passed before the kill.
    """

    def __init__(self, progress: str | None = None, crash_log: Path | None = None) -> None:
        self.results = CollectedResults()
        self.progress = progress
        self.crash_log = crash_log
        self.pending: dict[str, int] | None = None

    def _log(self, event: dict) -> None:
        if self.crash_log is not None:
            append_progress(self.crash_log, event)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._expect(ids)

    def _expect(self, ids: list[str]) -> None:
        if self.pending is None and ids:
            self.pending = {}
            for nodeid in ids:
                base = base_node_id(nodeid)
                self.pending[base] = self.pending.get(base, 0) + 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.results.collect_errors[report.nodeid] = _failure_reason(report) or "collection failed"
            self._log({"collect_error": [report.nodeid, self.results.collect_errors[report.nodeid]]})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._expect([item.nodeid for item in session.items])
        if session.items:  # empty on an xdist controller: the workers collect
            self._log({"collected": [item.nodeid for item in session.items]})

    def pytest_runtest_logstart(self, nodeid: str, location: tuple) -> None:
        self._log({"start": nodeid})

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple) -> None:
        record = self.results.tests.get(nodeid)
        if record is not None:
            self._log({"test": asdict(record)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Until its call phase reports, a test that started is not a pass: pytest.exit() or a
        # KeyboardInterrupt inside the test ends the session with only the setup report.
        record = self.results.tests.setdefault(report.nodeid, TestRecord(report.nodeid, "error", _UNFINISHED))
        record.duration_s = round(record.duration_s + float(report.duration or 0.0), 6)
        if report.when == "teardown":
            inputs = dict(report.user_properties).get(INPUTS_PROPERTY)
            if isinstance(inputs, list | tuple):
                record.inputs = sorted(set(record.inputs or ()) | {str(p) for p in inputs})
        self._update(record, report)
        if report.when == "teardown":
            self._finished(report.nodeid)

    def _finished(self, nodeid: str) -> None:
        base = base_node_id(nodeid)
        if self.progress is None or self.pending is None or base not in self.pending:
            return
        self.pending[base] -= 1
        if self.pending[base] > 0:
            return
        records = [asdict(r) for r in self.results.tests.values() if base_node_id(r.node_id) == base]
        for r in records:
            r.pop("inputs", None)
        try:
            with open(self.progress, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"node": base, "records": records}) + "\n")
        except OSError:
            self.progress = None  # progress is for people; the results file still decides

    @staticmethod
    def _update(record: TestRecord, report: pytest.TestReport) -> None:
        if record.outcome == "fail" or (record.outcome == "error" and record.reason != _UNFINISHED):
            return  # a teardown pass cannot undo a failed call
        if report.failed:
            if report.when == "call":
                record.outcome, record.reason = "fail", _failure_reason(report)
            else:
                record.outcome = "error"
                record.reason = f"error in {report.when}: {_failure_reason(report) or 'unknown'}"
        elif report.skipped:
            record.outcome, record.reason = "skipped", _skip_reason(report)
        elif report.when == "call" and hasattr(report, "wasxfail"):
            record.outcome, record.reason = "fail", f"unexpectedly passed (xfail: {report.wasxfail})"
        elif report.when == "call":
            record.outcome, record.reason = "pass", None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.results.exit_status = int(exitstatus)


def _skip_reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail or 'expected failure'}"
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return _short(str(longrepr)) or "skipped"
