"""Run LIVE falsifiers: the shell command, then the contract's own machine-checkable verdict.

Only ``pv verify --live`` calls this. A LIVE verdict is decided in this order, and the first
that applies wins:

1. a declared artifact or the metrics file path is unsafe or missing  -> error (nothing runs);
   unsafe: outside the repository (symlinks resolved), or not a regular file (a FIFO, a device)
2. the command exits non-zero or times out (hashing artifacts counts)  -> fail
3. ``loss_floor`` is declared and a ``*loss*`` metric is below it      -> fail: a degenerate run,
   e.g. val_loss 0.0008 on a corpus that is 99.99% unknown tokens, is not a success
4. ``check`` is declared: metrics missing / not rewritten by this run, or the check cannot be
   evaluated -> error; the check is false -> fail; true -> pass
5. otherwise exit 0 -> pass

Everything (command, exit code, wall time, output, environment, artifact hashes, metrics, and the
digests of the repository files the command's Python processes loaded) is kept under
``evidence/<contract-id>/<UTC timestamp>/``. Those loaded files, with the declared artifacts, are the
verdict's inputs (``pv.freshness``): editing a subject module the run used makes it stale, so an
ACTIVE_RUNTIME claim must be re-earned by re-running the command after the code it ran changed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pv import procrun
from pv.evidence import EvidenceRecord, FalsifierRun, environment, hash_artifact, new_run_folder, write_record
from pv.expr import EvalError, parse
from pv.fileio import ReadTimeout, read_text, sha256_file, tail_text
from pv.freshness import Digests, record_inputs
from pv.inputs_hook import WHOLE_TREE, child_env, read_children
from pv.ledger import LedgerEntry, Outcome, utc_now
from pv.plan import Planned, make_entry, rel_path
from pv.repo_path import UnsafePath, safe_repo_path
from pv.workspace import Workspace

OUTPUT_TAIL = 4000
METRICS_LIMIT = 64 << 20  # a metrics file is name -> number, not data


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
            run = run_one(p, root, folder, ws.digests, timeout_s=timeout_s)
            record.runs.append(run)
            results.append((p, run))
            write_record(folder, record)  # keep what we have if a later command hangs and is killed
        rel_folder = rel_path(folder, root)
        record_sha = sha256_file(folder / "record.json")
        for p, run in results:
            entry = make_entry(p, root, Outcome(run.outcome), run.reason, run.wall_s, inputs=run.inputs,
                               source="pv verify --live", evidence=rel_folder, evidence_sha256=record_sha,
                               exit_code=run.exit_code, timed_out=run.timed_out)
            yield p, entry, _tail(folder / (run.stderr or ""), folder / (run.stdout or ""))


def run_one(p: Planned, root: Path, folder: Path, digests: Digests, *, timeout_s: float | None = None,
            ) -> FalsifierRun:
    ft = p.falsifier
    command = p.binding.command or ""
    run = FalsifierRun(id=ft.id, command=command, check=ft.check, loss_floor=ft.loss_floor, outcome="error")

    start = time.perf_counter()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s  # hashing counts against it too
    try:
        for rel in ft.artifacts:
            run.artifacts[rel] = hash_artifact(root, rel, deadline=deadline)
        metrics_path = safe_repo_path(root, ft.metrics_file) if ft.metrics_file else None
        expression = parse(ft.check) if ft.check else None
    except ReadTimeout as exc:
        run.outcome, run.reason = "fail", f"timed out after {timeout_s} s while hashing artifact {exc.filename}"
        run.wall_s = round(time.perf_counter() - start, 3)
        return run
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
    spool = tempfile.mkdtemp(prefix="pv-live-inputs-")
    env = child_env({**os.environ, "PV_EVIDENCE_DIR": str(folder), "PV_FALSIFIER_ID": ft.id,
                     "PV_CONTRACT_ID": p.contract.id}, spool, ft.id, str(root))
    remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
    stdout_file, stderr_file = folder / f"{ft.id}.stdout.txt", folder / f"{ft.id}.stderr.txt"
    run.stdout, run.stderr = stdout_file.name, stderr_file.name
    try:
        with stdout_file.open("wb") as out, stderr_file.open("wb") as err:
            result = procrun.run(command, cwd=root, env=env, stdout=out, stderr=err, timeout_s=remaining)
        run.exit_code, run.timed_out = result.exit_code, result.timed_out
        run.wall_s = round(time.perf_counter() - start, 3)
        # What the run depended on: the repository files its Python processes loaded, and the declared
        # artifacts. A command with no Python process that reported depends on every Python file.
        reported, loaded = read_children(spool, ft.id)
        artifacts = [str(safe_repo_path(root, rel)) for rel in ft.artifacts]
        run.inputs = record_inputs(root, [*loaded, *artifacts, *([] if reported else [WHOLE_TREE])], digests)
    finally:
        shutil.rmtree(spool, ignore_errors=True)

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
        data = json.loads(read_text(path, limit=METRICS_LIMIT))
    except OSError as exc:
        return None, f"metrics_file {rel} cannot be read: {exc.strerror}"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"metrics_file {rel} is not valid JSON: {exc}"
    except (ValueError, RecursionError) as exc:  # e.g. a 5000-digit integer, or arrays nested 100k deep
        return None, f"metrics_file {rel} cannot be read as JSON: {str(exc).split(';')[0]}"
    if not isinstance(data, dict):
        return None, f"metrics_file {rel} must hold a JSON object of name -> number"
    return data, None


def _tail(*files: Path) -> str:
    chunks = []
    for f in files:
        try:
            text = tail_text(f, 4 * OUTPUT_TAIL)  # bytes: enough for OUTPUT_TAIL characters of UTF-8
        except OSError:
            continue
        chunks.append(text[-OUTPUT_TAIL:])
    return "\n".join(c for c in chunks if c.strip())
