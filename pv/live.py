"""Run LIVE falsifiers: the shell command, then the contract's own machine-checkable verdict.

Only ``pv verify --live`` calls this. A LIVE verdict is decided in this order, and the first
that applies wins:

1. a declared artifact or the metrics file path is unsafe or missing  -> error (nothing runs)
2. the command exits non-zero or times out                            -> fail
3. ``loss_floor`` is declared and a ``*loss*`` metric is below it      -> fail: a degenerate run,
   e.g. val_loss 0.0008 on a corpus that is 99.99% unknown tokens, is not a success
4. ``check`` is declared: metrics missing / not rewritten by this run, or the check cannot be
   evaluated -> error; the check is false -> fail; true -> pass
5. otherwise exit 0 -> pass

Everything (command, exit code, wall time, output, environment, artifact hashes, metrics) is
kept under ``evidence/<contract-id>/<UTC timestamp>/``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pv import procrun
from pv.evidence import (
    EvidenceRecord,
    FalsifierRun,
    UnsafePath,
    environment,
    new_run_folder,
    safe_repo_path,
    write_record,
)
from pv.expr import EvalError, parse
from pv.fileio import sha256_file
from pv.ledger import LedgerEntry, Outcome, utc_now
from pv.plan import Planned, make_entry, rel_path
from pv.workspace import Workspace

OUTPUT_TAIL = 4000


def run_live(planned: list[Planned], ws: Workspace, *, timeout_s: float | None = None,
             ) -> Iterator[tuple[Planned, LedgerEntry, str]]:
    root, state = ws.root, ws.repo_state
    by_contract: dict[str, list[Planned]] = {}
    for p in planned:
        by_contract.setdefault(p.contract.id, []).append(p)
    env_info = environment()
    for contract_id, items in by_contract.items():
        started = utc_now()
        folder = new_run_folder(ws.evidence_dir, contract_id, started)
        lc = items[0].contract
        record = EvidenceRecord(contract_id=contract_id, contract_file=rel_path(lc.path, root),
                                contract_sha256=sha256_file(lc.path), commit=state.commit, worktree=state.worktree,
                                started_at=started, environment=env_info)
        results = []
        for p in items:
            run = run_one(p, root, folder, timeout_s=timeout_s)
            record.runs.append(run)
            results.append((p, run))
            write_record(folder, record)  # keep what we have if a later command hangs and is killed
        rel_folder = rel_path(folder, root)
        for p, run in results:
            entry = make_entry(p, root, state, Outcome(run.outcome), run.reason, run.wall_s,
                               source="pv verify --live", evidence=rel_folder, exit_code=run.exit_code,
                               timed_out=run.timed_out)
            yield p, entry, _tail(folder / (run.stderr or ""), folder / (run.stdout or ""))


def run_one(p: Planned, root: Path, folder: Path, *, timeout_s: float | None = None) -> FalsifierRun:
    ft = p.falsifier
    command = p.binding.command or ""
    run = FalsifierRun(id=ft.id, command=command, check=ft.check, loss_floor=ft.loss_floor, outcome="error")

    try:
        for rel in ft.artifacts:
            run.artifacts[rel] = sha256_file(safe_repo_path(root, rel))
        metrics_path = safe_repo_path(root, ft.metrics_file) if ft.metrics_file else None
        expression = parse(ft.check) if ft.check else None
    except UnsafePath as exc:
        run.reason = f"unsafe path: {exc}"
        return run
    except EvalError as exc:
        run.reason = f"check is not a valid pv expression: {exc}"
        return run
    missing = [rel for rel, digest in run.artifacts.items() if digest is None]
    if missing:
        run.reason = f"declared artifact(s) missing: {', '.join(missing)}"
        return run
    if (expression is not None or ft.loss_floor is not None) and metrics_path is None:
        run.reason = "`check`/`loss_floor` need `metrics_file:` (the JSON the command writes)"
        return run

    before = _mtime(metrics_path)
    env = {**os.environ, "PV_EVIDENCE_DIR": str(folder), "PV_FALSIFIER_ID": ft.id, "PV_CONTRACT_ID": p.contract.id}
    stdout_file, stderr_file = folder / f"{ft.id}.stdout.txt", folder / f"{ft.id}.stderr.txt"
    run.stdout, run.stderr = stdout_file.name, stderr_file.name
    with stdout_file.open("wb") as out, stderr_file.open("wb") as err:
        result = procrun.run(command, cwd=root, env=env, stdout=out, stderr=err, timeout_s=timeout_s)
    run.exit_code, run.timed_out, run.wall_s = result.exit_code, result.timed_out, result.duration_s

    if result.start_error:
        run.reason = f"the command could not start: {result.start_error}"
        return run
    if result.timed_out:
        run.outcome, run.reason = "fail", f"timed out after {timeout_s:g} s; its whole process group was killed"
        return run
    if run.exit_code != 0:
        run.outcome, run.reason = "fail", f"command exited with code {run.exit_code}"
        return run
    if metrics_path is None:
        run.outcome, run.reason = "pass", "command exited 0 (no check declared)"
        return run

    metrics, problem = _read_metrics(metrics_path, before, ft.metrics_file or "")
    if problem:
        run.reason = problem
        return run
    assert metrics is not None
    run.metrics = metrics
    (folder / f"{ft.id}.metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    run.outcome, run.reason = judge(metrics, ft.check, ft.loss_floor)
    return run


def judge(metrics: dict[str, Any], check: str | None, loss_floor: float | None) -> tuple[str, str]:
    """The verdict on a run's metrics: loss floor first (sanity), then the contract's check."""
    if loss_floor is not None:
        for name, value in sorted(metrics.items()):
            if "loss" not in name.lower() or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if math.isnan(value):  # NaN compares false with everything: the floor cannot vouch for it
                return "fail", f"{name}=nan: a NaN loss cannot be checked against the loss_floor {loss_floor:g}"
            if value < loss_floor:  # -inf included
                return "fail", (f"{name}={value:g} is below the declared loss_floor {loss_floor:g}: a degenerate "
                                "run (e.g. a corpus of mostly unknown tokens), not a pass")
    if check is None:
        return "pass", f"no metric below loss_floor {loss_floor:g}"
    try:
        expression = parse(check)
        value = expression.evaluate(metrics)
    except EvalError as exc:
        return "error", f"check `{check}` cannot be evaluated: {exc}"
    shown = ", ".join(f"{n}={metrics[n]!r}" for n in sorted(expression.names) if n in metrics)
    if not isinstance(value, bool):
        return "error", f"check `{check}` gave the number {value!r}, not true/false; write a comparison"
    return ("pass", f"check held: {check} with {shown}") if value else \
        ("fail", f"check failed: {check} with {shown}")


def _mtime(path: Path | None) -> int | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except OSError:
        return None


def _read_metrics(path: Path, before: int | None, rel: str) -> tuple[dict[str, Any] | None, str | None]:
    after = _mtime(path)
    if after is None:
        return None, f"the command exited 0 but did not write metrics_file {rel}"
    if before is not None and after == before:
        return None, f"metrics_file {rel} was not rewritten by this run (stale file from an earlier run)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"metrics_file {rel} is not valid JSON: {exc}"
    except (ValueError, RecursionError) as exc:  # e.g. a 5000-digit integer, or arrays nested 100k deep
        return None, f"metrics_file {rel} cannot be read as JSON: {str(exc).split(';')[0]}"
    if not isinstance(data, dict):
        return None, f"metrics_file {rel} must hold a JSON object of name -> number"
    return data, None


def _tail(*files: Path) -> str:
    chunks = []
    for f in files:
        if f.is_file():
            text = f.read_text(encoding="utf-8", errors="replace")
            chunks.append(text[-OUTPUT_TAIL:])
    return "\n".join(c for c in chunks if c.strip())
