"""Throwaway repos for pv tests: a contracts/ folder, test folders, and a valid contract factory."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml


def valid_contract(cid: str = "demo-v1", *, falsifiers: list[dict[str, Any]] | None = None, **meta: Any) -> dict:
    """A minimal contract that passes every gate when its bound tests exist."""
    base = {
        "metadata": {
            "id": cid,
            "version": "1.1.0",
            "status": "DRAFT",
            "kind": "tooling",
            "created": "2026-01-01",
            "updated": "2026-02-01",
            "author": "tests",
            "description": "A demo contract.",
            "references": [],
            "depends_on": [],
            "changelog": [
                {"version": "1.0.0", "date": "2026-01-01", "change": "first"},
                {"version": "1.1.0", "date": "2026-02-01", "change": "second"},
            ],
        },
        "equations": {"bound": {"formula": "x <= y"}},
        "proof_obligations": [{"type": "bound", "property": "x never exceeds y", "applies_to": ["bound"]}],
        "falsification_tests": falsifiers if falsifiers is not None else [falsifier("FALSIFY-DEMO-001")],
    }
    base["metadata"].update(meta)
    return base


def falsifier(fid: str, test: str | None = None, **extra: Any) -> dict:
    out = {"id": fid, "rule": "x <= y", "prediction": "holds", "if_fails": "fix it", "ship_blocking": True}
    if test is not None:
        out["test"] = test
    out.update(extra)
    return out


class Repo:
    def __init__(self, root: Path):
        self.root = root
        (root / "contracts").mkdir()
        (root / "falsifiers").mkdir()
        (root / "tests").mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")

    def contract(self, data: dict, name: str | None = None) -> Path:
        cid = name or data["metadata"]["id"]
        path = self.root / "contracts" / f"{cid}.yaml"
        path.write_text(yaml.safe_dump(copy.deepcopy(data), sort_keys=False))
        return path

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def git(self, *args: str) -> str:
        ident = ["-c", "user.email=pv@example.invalid", "-c", "user.name=pv", "-c", "commit.gpgsign=false"]
        return subprocess.run(["git", *ident, *args], cwd=self.root, check=True, capture_output=True,
                              text=True).stdout

    def commit_all(self, message: str = "work") -> None:
        if not (self.root / ".git").exists():
            self.git("init", "-q")
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


# tests/pv/data holds fixture repositories (their falsifiers/ are run by pv inside temp copies).
collect_ignore_glob = ["data/*"]


def recorded(root: Path, fid: str, outcome: Any = None, *, inputs: list[str] | None = None, **fields: Any):
    """The ledger entry `pv verify` would record now for falsifier ``fid`` (fresh until something changes).

    ``inputs`` are the repo-relative files it depended on (default: its test file); ``fields`` override
    anything, e.g. ``inputs=None`` for an entry written by an older pv.
    """
    from pv.binding import parse_binding
    from pv.freshness import Digests, entry_digest
    from pv.ledger import LedgerEntry, Outcome, utc_now
    from pv.loader import load_contract

    for path in sorted((root / "contracts").glob("*.yaml")):
        lc = load_contract(path)
        ft = next((f for f in (lc.contract.falsification_tests if lc.contract else []) if f.id == fid), None)
        if ft is None:
            continue
        binding = parse_binding(ft.test)
        node = f"{binding.file}::{binding.qualname}" if binding.file else None
        files = inputs if inputs is not None else ([binding.file] if binding.file else [])
        base = dict(falsifier_id=fid, contract_id=lc.contract.metadata.id, outcome=outcome or Outcome.PASS,
                    ship_blocking=ft.ship_blocking, binding=ft.test, node_id=node, entry_sha256=entry_digest(ft),
                    inputs=Digests(root).of(files), recorded_at=utc_now())
        base.update(fields)
        return LedgerEntry(**base)
    raise KeyError(f"no contract under {root} declares {fid}")


T = TypeVar("T")


def no_hang(fn: Callable[[], T], *, fifos: Sequence[Path] = (), seconds: float = 30.0) -> T:
    """``fn()``, failing the test (instead of hanging the suite) when it does not finish in ``seconds``.

    For code that may block on a FIFO: on a hang, each FIFO in ``fifos`` gets a writer that closes
    at once, so the stuck reader sees end-of-file and its thread ends.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed to the test below
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):  # no reader blocked on it after all
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"still running after {seconds} s: blocked on a FIFO or reading without end")
    if "error" in result:
        raise result["error"]
    return result["value"]
