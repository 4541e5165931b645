"""The repository as pv sees it: built once per command, each input read at most once, on first use.

Commands used to repeat "find the contracts, read the ledger, scan the tests, ask git" each in
their own way; now they build a ``Workspace`` and ask it. Where those inputs live is decided by
``Settings`` alone (today's layout by default), so configuring a repository's layout is a matter
of building a different ``Settings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pv.diagnostics import display_path
from pv.freshness import Digests
from pv.gitstate import RepoState, repo_state
from pv.ledger import LEDGER_PATH, Ledger, ledger_path, read_ledger
from pv.loader import LoadedContract, load_contract
from pv.testscan import TEST_DIRS, TestIndex, scan_tests


@dataclass(frozen=True)
class Settings:
    """Where a repository keeps what pv reads and writes, relative to its root."""

    contracts: tuple[str, ...] = ("contracts/*.yaml", "contracts/*.yml")  # globs
    test_dirs: tuple[str, ...] = TEST_DIRS  # scanned (AST only) for test functions and markers
    evidence_dir: str = "evidence"  # LIVE runs land in <evidence_dir>/<contract-id>/<timestamp>/
    ledger: str = LEDGER_PATH.as_posix()
    coverage_floor: int = 1  # `pv coverage --floor` default: fewer falsifiers than this is a failure


def find_root(start: Path | None = None) -> Path:
    """The nearest ancestor that looks like a provable-train repo (has contracts/ or pyproject.toml)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "contracts").is_dir() or (candidate / "pyproject.toml").is_file():
            return candidate
    return here


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders replaced by the contract files directly inside them."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            out.append(path)
    return out


class Workspace:
    """One repository: its contracts, test index, ledger and git state, each computed lazily and once."""

    def __init__(self, root: Path, settings: Settings | None = None, *, ledger_file: Path | None = None) -> None:
        self.root = root
        self.settings = settings or Settings()  # the one place a repository's own layout settings plug in
        self.ledger_file = ledger_path(root, ledger_file if ledger_file is not None else Path(self.settings.ledger))
        self._loaded: dict[Path, LoadedContract] = {}

    def display(self, path: Path) -> str:
        return display_path(path, self.root)

    @cached_property
    def contract_files(self) -> list[Path]:
        """Every contract file in the repository, sorted."""
        return sorted({p for pattern in self.settings.contracts for p in self.root.glob(pattern)})

    def load(self, paths: list[Path]) -> list[LoadedContract]:
        """The contracts at ``paths``, each file parsed once however often it is asked for."""
        out = []
        for path in paths:
            key = path.resolve()
            if key not in self._loaded:
                self._loaded[key] = load_contract(path, self.display(path))
            out.append(self._loaded[key])
        return out

    @cached_property
    def contracts(self) -> list[LoadedContract]:
        """Every contract in the repository, loaded."""
        return self.load(self.contract_files)

    @cached_property
    def ledger(self) -> Ledger | None:
        """The verdict ledger, or None when none was written yet; raises ``LedgerError`` when unreadable."""
        return read_ledger(self.ledger_file)

    @cached_property
    def test_index(self) -> TestIndex:
        return scan_tests(self.root, self.settings.test_dirs)

    @cached_property
    def repo_state(self) -> RepoState:
        return repo_state(self.root)  # shells out to git: asked at most once per command

    @cached_property
    def digests(self) -> Digests:
        """Content digests of repository files, each file hashed at most once per command (freshness)."""
        return Digests(self.root)

    @property
    def evidence_dir(self) -> Path:
        return self.root / self.settings.evidence_dir
