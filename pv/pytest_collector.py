"""The pytest plugin object that records outcomes, used by ``pv verify`` and ``pytest --pv-ledger``.

Registered by ``pv.pytest_plugin`` only when one of pv's options is given, so a plain ``pytest``
run pays nothing for it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from pv.pytest_results import CollectedResults, TestRecord, append_progress, base_node_id

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


class ResultCollector:
    """A pytest plugin object: records outcomes, optionally keeps only selected node ids.

    With ``progress``, every test start and finished record is also appended to that file as it
    happens, so a run killed on its timeout still tells which tests passed before the kill.
    """

    def __init__(self, select: set[str] | None = None, progress: Path | None = None) -> None:
        self.select = select
        self.progress = progress
        self.results = CollectedResults()

    def _log(self, event: dict) -> None:
        if self.progress is not None:
            append_progress(self.progress, event)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.select is None:
            return
        keep, drop = [], []
        for item in items:
            (keep if base_node_id(item.nodeid) in self.select else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.results.collect_errors[report.nodeid] = _failure_reason(report) or "collection failed"
            self._log({"collect_error": [report.nodeid, self.results.collect_errors[report.nodeid]]})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
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
