"""What a lint gate declares about itself (``GateInfo``) and what it sees when it runs (``LintContext``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pv.diagnostics import Diagnostic, Severity, format_key_path
from pv.loader import LoadedContract
from pv.models import Contract
from pv.testscan import TestIndex
from pv.workspace import Workspace


def declared_ids(lc: LoadedContract) -> set[str] | None:
    """Falsifier ids a contract declares, read from the raw YAML when it did not validate; None when unreadable."""
    if lc.contract is not None:
        return {ft.id for ft in lc.contract.falsification_tests}
    data = lc.data if isinstance(lc.data, dict) else None
    tests = data.get("falsification_tests") if data is not None else None
    if not isinstance(tests, list):
        return None
    return {t["id"] for t in tests if isinstance(t, dict) and isinstance(t.get("id"), str)}


@dataclass(frozen=True)
class GateInfo:
    """A gate's self-description, declared once as ``GATE`` in its module; the module docstring says why."""

    name: str  # the gate's code: in diagnostics, SARIF rules and `pv lint`'s table
    title: str  # what passing means, in a few words (`pv lint`'s table)
    fails_when: str  # what makes it fail, one line (the README's gate table, `pv gates`)


@dataclass
class LintContext:
    ws: Workspace
    loaded: list[LoadedContract]
    strict_test_binding: bool = False
    since: tuple[str, str] | None = None  # (the ref as given, its commit) for `pv lint --since`

    @property
    def root(self) -> Path:
        return self.ws.root

    @property
    def valid(self) -> list[tuple[LoadedContract, Contract]]:
        return [(lc, lc.contract) for lc in self.loaded if lc.contract is not None]

    @cached_property
    def repo_contracts(self) -> list[LoadedContract]:
        """The linted contracts plus every other contract in the repository.

        Cross-contract gates (depends_on, orphans) need the whole repo, or linting one file
        would report every other contract's tests as orphans.
        """
        seen = {lc.path.resolve() for lc in self.loaded}
        return [*self.loaded, *(lc for lc in self.ws.contracts if lc.path.resolve() not in seen)]

    @property
    def test_index(self) -> TestIndex:
        return self.ws.test_index

    @cached_property
    def unloaded(self) -> list[LoadedContract]:
        """Repo contracts that did not load: gates over the set of declared ids only see part of it."""
        return [lc for lc in self.repo_contracts if lc.contract is None]

    def partial(self, code: str, what: str) -> list[Diagnostic]:
        """Say once, as a warning, that a cross-contract gate judged only the contracts that loaded."""
        if not self.unloaded:
            return []
        files = ", ".join(lc.display for lc in self.unloaded)
        return [Diagnostic(file=self.unloaded[0].display, code=code, severity=Severity.WARNING,
                           message=f"result partial: {files} did not load, so {what}",
                           hint="fix the schema errors reported for it; this gate then checks it too")]

    def diag(self, lc: LoadedContract, path: list[str | int], message: str, *, hint: str | None = None,
             code: str, severity: Severity = Severity.ERROR) -> Diagnostic:
        line, col = lc.positions.locate(path) or (None, None)
        return Diagnostic(file=lc.display, line=line, col=col, key_path=format_key_path(path), message=message,
                          hint=hint, code=code, severity=severity)
