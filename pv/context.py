"""What every lint gate sees: the contracts under check, the repo they live in, and lazy indexes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pv.diagnostics import Diagnostic, Severity, display_path, format_key_path
from pv.loader import LoadedContract, load_contract
from pv.models import Contract
from pv.testscan import TestIndex, scan_tests
from pv.yaml_nodes import locate


def find_root(start: Path | None = None) -> Path:
    """The nearest ancestor that looks like a provable-train repo (has contracts/ or pyproject.toml)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "contracts").is_dir() or (candidate / "pyproject.toml").is_file():
            return candidate
    return here


def contract_files(root: Path) -> list[Path]:
    base = root / "contracts"
    return sorted([*base.glob("*.yaml"), *base.glob("*.yml")]) if base.is_dir() else []


def expand_paths(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            out.append(path)
    return out


def load_all(paths: list[Path], root: Path) -> list[LoadedContract]:
    return [load_contract(p, display_path(p, root)) for p in paths]


@dataclass
class LintContext:
    root: Path
    loaded: list[LoadedContract]
    strict_test_binding: bool = False

    @property
    def valid(self) -> list[tuple[LoadedContract, Contract]]:
        return [(lc, lc.contract) for lc in self.loaded if lc.contract is not None]

    @cached_property
    def repo_contracts(self) -> list[LoadedContract]:
        """The linted contracts plus every other contract in the repo's contracts/ folder.

        Cross-contract gates (depends_on, orphans) need the whole repo, or linting one file
        would report every other contract's tests as orphans.
        """
        seen = {lc.path.resolve() for lc in self.loaded}
        extra = [p for p in contract_files(self.root) if p.resolve() not in seen]
        return [*self.loaded, *load_all(extra, self.root)]

    @cached_property
    def test_index(self) -> TestIndex:
        return scan_tests(self.root)

    def diag(self, lc: LoadedContract, path: list[str | int], message: str, *, hint: str | None = None,
             code: str, severity: Severity = Severity.ERROR) -> Diagnostic:
        line, col = locate(lc.node, path) or (None, None)
        return Diagnostic(file=lc.display, line=line, col=col, key_path=format_key_path(path), message=message,
                          hint=hint, code=code, severity=severity)
