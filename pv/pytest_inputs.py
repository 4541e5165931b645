"""The pytest side of input recording: one context per test and per fixture, inputs on each report.

Installed by ``pv.pytest_plugin`` (``pytest_load_initial_conftests``, before any conftest or test
module is imported) whenever ``--pv-results`` or ``--pv-ledger`` is given, in the process that
runs the tests (under pytest-xdist: in every worker). At the end of each test the inputs are
attached to its teardown report as the user property ``pv_inputs``, which pytest-xdist carries
back to the controller like any other report field.

A fixture's work (a session fixture that imports a tokenizer, say) is recorded under the fixture,
and every test that uses the fixture inherits it, not only the first test that happened to set
it up.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pv.inputs_hook import Recorder
from pv.pytest_results import INPUTS_PROPERTY


def start_recording(rootpath: Path) -> Recorder:
    recorder = Recorder(str(rootpath), tempfile.mkdtemp(prefix="pv-inputs-"))
    recorder.install()
    return recorder


_SCOPES = {"class": pytest.Class, "module": pytest.Module, "package": pytest.Package}


def fixture_key(fixturedef: Any, scope_node: str) -> str:
    """One key per cached fixture *value*: a module-scoped fixture set up again for the next module is
    another context, so nothing leaks between tests that never shared the value."""
    return f"fixture:{scope_node}:{getattr(fixturedef, 'baseid', '')}::{getattr(fixturedef, 'argname', '?')}"


def scope_node(item: pytest.Item, scope: str) -> str:
    """The node id of the scope that caches a fixture of ``scope`` for ``item`` ('' for the session)."""
    kind = _SCOPES.get(scope)
    node = item.getparent(kind) if kind is not None else None
    if node is None and scope == "class":
        node = item.getparent(pytest.Module)
    return node.nodeid if node is not None else ""


class InputsPlugin:
    def __init__(self, recorder: Recorder, rootpath: Path) -> None:
        self.recorder = recorder
        self.rootpath = Path(rootpath)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        previous = self.recorder.set_context(item.nodeid)
        try:
            return (yield)
        finally:
            self.recorder.set_context(previous)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, Any, Any]:
        scope = getattr(fixturedef, "scope", "function")
        if scope == "function":  # set up for this test alone: its work is the test's
            return (yield)
        node = getattr(request, "node", None)
        previous = self.recorder.set_context(fixture_key(fixturedef, node.nodeid if node is not None else ""))
        try:
            return (yield)
        finally:
            self.recorder.set_context(previous)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        if call.when == "teardown":
            item.user_properties.append((INPUTS_PROPERTY, self.inputs_for(item)))
        return (yield)

    def inputs_for(self, item: pytest.Item) -> list[str]:
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", None) or {}
        contexts = [item.nodeid] + [fixture_key(d, scope_node(item, d.scope)) for chain in defs.values()
                                    for d in chain if getattr(d, "scope", "function") != "function"]
        path = Path(item.path)
        # pytest loads conftest.py (and packages' __init__.py) along the path: present or not, they
        # are inputs, so adding an untracked conftest.py later makes the verdict stale.
        extra = [str(path)]
        for folder in [path.parent, *path.parent.parents]:
            extra += [str(folder / "conftest.py"), str(folder / "__init__.py")]
            if folder == self.rootpath or self.rootpath not in folder.parents:
                break
        return self.recorder.inputs(contexts, extra)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        shutil.rmtree(self.recorder.spool, ignore_errors=True)
