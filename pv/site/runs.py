"""Evidence folders as the report shows them: what ran, what it measured, and its metric series.

Two kinds of folder live under ``evidence/<contract-id>/<stamp>/``: those ``pv verify --live``
writes (``record.json``: commands, exit codes, wall times, environment, checks and the metrics
they read) and hand-recorded runs (a ``README.md``, ``summary.json``, logs). Both may hold
``*metrics.jsonl`` files (one JSON object per line, as ``apr pretrain`` writes them); those are
the series the report plots. Nothing here trusts the files: unreadable lines are counted and
reported, never fatal, and a folder's contents never leave the repository.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pv.evidence import EvidenceRecord, read_record

MAX_SERIES_BYTES = 64 * 1024 * 1024  # a metrics file larger than this is listed, not plotted
MAX_README_BYTES = 256 * 1024


@dataclass
class Series:
    """One ``*metrics.jsonl`` file: numeric columns keyed by metric name, as (step, value) points."""

    name: str  # file name without ".metrics.jsonl" / ".jsonl" ("ft", "pre", "metrics")
    file: str  # repo-relative
    points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    bad_lines: int = 0
    non_finite: int = 0
    skipped: str | None = None  # why the file was not read

    def has(self, metric: str) -> bool:
        return bool(self.points.get(metric))


@dataclass
class EvidenceRun:
    contract_id: str
    folder: str  # repo-relative
    stamp: str
    record: EvidenceRecord | None = None
    record_problem: str | None = None
    readme: str | None = None
    summary: dict[str, Any] | None = None
    series: list[Series] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)  # (name, size in bytes)

    @property
    def anchor(self) -> str:
        return f"run-{self.contract_id}-{self.stamp}"

    @property
    def environment(self) -> dict[str, Any]:
        if self.record is not None:
            return {k: v for k, v in self.record.environment.items() if v is not None}
        versions = (self.summary or {}).get("versions")
        env = dict(versions) if isinstance(versions, dict) else {}
        if isinstance((self.summary or {}).get("device"), str):
            env["device"] = self.summary["device"]  # type: ignore[index]
        return env


def find_runs(root: Path, base: Path) -> dict[str, list[EvidenceRun]]:
    """Every run folder under the evidence folder ``base``, grouped by the folder above it (a contract id),
    newest first."""
    out: dict[str, list[EvidenceRun]] = {}
    if not base.is_dir():
        return out
    for group in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()):
        runs = [read_run(root, group.name, folder) for folder in sorted(group.iterdir(), reverse=True)
                if folder.is_dir() and not folder.is_symlink()]
        if runs:
            out[group.name] = runs
    return out


def read_run(root: Path, contract_id: str, folder: Path) -> EvidenceRun:
    rel = _rel(folder, root)
    run = EvidenceRun(contract_id, rel, folder.name)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink())
    run.files = [(p.name, p.stat().st_size) for p in files]
    if (folder / "record.json").is_file():
        try:
            run.record = read_record(folder)
        except ValueError as exc:
            run.record_problem = str(exc)
    readme = folder / "README.md"
    if readme.is_file() and readme.stat().st_size <= MAX_README_BYTES and run.record is None:
        run.readme = readme.read_text(encoding="utf-8", errors="replace")
    summary = _json_object(folder / "summary.json")
    run.summary = summary
    run.series = [read_series(p, root) for p in files if p.name.endswith(".jsonl") and "metrics" in p.name]
    return run


def read_series(path: Path, root: Path) -> Series:
    name = path.name.removesuffix(".jsonl").removesuffix(".metrics").removesuffix("metrics").rstrip("._-")
    series = Series(name or "metrics", _rel(path, root))
    if path.stat().st_size > MAX_SERIES_BYTES:
        series.skipped = f"larger than {MAX_SERIES_BYTES // 2**20} MiB"
        return series
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except (ValueError, RecursionError):
                series.bad_lines += 1
                continue
            if not isinstance(row, dict) or not _number(row.get("step")):
                series.bad_lines += 1
                continue
            for key, value in row.items():
                if key == "step" or not _number(value):
                    continue
                if not math.isfinite(value):
                    series.non_finite += 1
                    continue
                series.points.setdefault(key, []).append((float(row["step"]), float(value)))
    return series


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # the evidence folder is a link to somewhere else
        return path.as_posix()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_object(path: Path) -> dict[str, Any] | None:
    if not path.is_file() or path.stat().st_size > MAX_README_BYTES:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
