"""pytest plugin shipped with pv.

It registers the ``falsifies`` marker so a test can claim the falsifier ids it guards::

    @pytest.mark.falsifies("FALSIFY-TOK-001")
    def test_every_id_below_vocab(): ...

``pv lint`` reads these markers statically (gate ``orphans``) to find tests that claim
an id no contract declares.

It also adds ``--pv-ledger``: a plain ``pytest --pv-ledger`` run records, for every contract
falsifier whose bound test ran, the outcome in the verdict ledger (``.pv/ledger.json`` under the
repo root, or ``--pv-ledger-file``), exactly as ``pv verify`` would, with the inputs each test
depended on (``pv.pytest_inputs``). ``--pv-results``, ``--pv-select`` and ``--pv-progress`` are the
internal channel ``pv verify`` uses to drive its pytest subprocess. Nothing here imports more of
pv unless one of these options is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_COLLECTOR_NAME = "pv-result-collector"
_MESSAGE = pytest.StashKey[str]()
_RECORDER = pytest.StashKey[object]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pv", "provable-train contracts")
    group.addoption("--pv-ledger", action="store_true", default=False,
                    help="record the outcome of every contract-bound test that ran in the pv verdict ledger")
    group.addoption("--pv-ledger-file", default=None, metavar="PATH",
                    help="ledger file for --pv-ledger (default: <repo root>/.pv/ledger.json)")
    group.addoption("--pv-results", default=None, metavar="PATH", help="(internal, used by pv verify) write "
                    "per-test outcomes as JSON to PATH")
    group.addoption("--pv-select", default=None, metavar="PATH", help="(internal, used by pv verify) run only "
                    "the node ids listed in the JSON file PATH")
    group.addoption("--pv-progress", default=None, metavar="PATH", help="(internal, used by pv verify) append a "
                    "JSON line to PATH as each selected test finishes")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Start recording inputs before any conftest or test module is imported (only when asked)."""
    ns = early_config.known_args_namespace
    if getattr(ns, "pv_ledger", False) or getattr(ns, "pv_results", None):
        from pv.pytest_inputs import start_recording

        early_config.stash[_RECORDER] = start_recording(early_config.rootpath)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "falsifies(*ids): the FALSIFY-<AREA>-NNN ids of contract falsifiers this test guards",
    )
    select_file = config.getoption("--pv-select", None)
    if select_file:  # in every process that collects, xdist workers included
        import json

        from pv.pytest_collector import Selector

        config.pluginmanager.register(Selector(set(json.loads(Path(select_file).read_text(encoding="utf-8")))),
                                      "pv-selector")
    recorder = config.stash.get(_RECORDER, None)
    if recorder is not None:
        from pv.pytest_inputs import InputsPlugin

        config.pluginmanager.register(InputsPlugin(recorder, config.rootpath), "pv-inputs")  # type: ignore[arg-type]
    wanted = config.getoption("--pv-ledger", False) or config.getoption("--pv-results", None)
    if not wanted or getattr(config, "workerinput", None) is not None:
        return  # xdist workers report to the controller, which records
    from pv.pytest_collector import ResultCollector
    from pv.pytest_results import progress_path

    results_file = config.getoption("--pv-results", None)
    crash_log = progress_path(Path(results_file)) if results_file else None
    config.pluginmanager.register(ResultCollector(config.getoption("--pv-progress", None), crash_log), _COLLECTOR_NAME)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    collector = config.pluginmanager.get_plugin(_COLLECTOR_NAME)
    if collector is None:
        return
    from pv.pytest_results import write_results

    collector.results.exit_status = int(exitstatus)
    results_file = config.getoption("--pv-results", None)
    if results_file:
        write_results(Path(results_file), collector.results)
    if config.getoption("--pv-ledger", False):
        from pv.verify import record_pytest_results

        try:
            message = record_pytest_results(Path(config.rootpath), collector.results,
                                            config.getoption("--pv-ledger-file", None))
        except Exception as exc:  # a ledger problem must never hide the test results themselves
            message = f"could not update the ledger: {exc}"
        config.stash[_MESSAGE] = message


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    message = config.stash.get(_MESSAGE, None)
    if message:
        terminalreporter.write_sep("-", "pv ledger")
        terminalreporter.write_line(message)
