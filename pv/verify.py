"""``pv verify`` as a library: run every selected falsifier's bound test, record verdicts in the ledger.

All bound pytest tests run in ONE pytest subprocess (fresh interpreter: no module caching between
runs, and a crashing test cannot take pv down), driven through pv's own pytest plugin, which
writes per-node outcomes to a JSON file. Outcomes are then mapped back to falsifier ids: a
binding covers every parametrization of its test, and any failing case fails the falsifier.

LIVE bindings are shell commands from the contract, i.e. untrusted input: they run only when
the caller passes ``live=True`` (``pv verify --live``), never from validate or lint.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pv.binding import BindingKind
from pv.config import ConfigError, settings_for
from pv.diagnostics import Diagnostic
from pv.freshness import Digests, record_inputs, why_stale
from pv.ledger import Ledger, LedgerEntry, LedgerError, Outcome, check_writable, read_ledger, update_ledger
from pv.live import run_live
from pv.loader import LoadedContract
from pv.plan import Planned, make_entry, plan
from pv.pytest_results import CollectedResults, TestRecord, base_node_id, fold_inputs
from pv.repo_path import UnsafePath, safe_repo_path
from pv.workspace import Workspace, find_root


@dataclass
class Verdict:
    entry: LedgerEntry
    planned: Planned
    output: str | None = None  # pytest or LIVE output tail, for people
    kept: bool = False  # a fresh verdict from the ledger, not re-run (``--changed``)


class Progress:
    """What ``pv verify`` tells a watcher while it runs (``pv.progress`` renders it); silent by default."""

    def start(self, to_run: int, kept: int) -> None:
        """``to_run`` falsifiers will run; ``kept`` fresh verdicts are reused."""

    def done(self, verdict: Verdict) -> None:
        """One falsifier finished (all parametrizations of its test, or its LIVE command)."""

    def close(self) -> None:
        """The run is over (also after an error)."""


@dataclass
class ContractVerdicts:
    contract: LoadedContract
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(v.entry.outcome is Outcome.PASS for v in self.verdicts)

    @property
    def blocking_failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.entry.outcome.failed and v.entry.ship_blocking]


@dataclass
class VerifyReport:
    contracts: list[ContractVerdicts]
    diagnostics: list[Diagnostic]
    ledger_file: Path | None
    pytest_exit: int | None = None
    pytest_output: str = ""
    duration_s: float = 0.0

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for c in self.contracts for v in c.verdicts]

    @property
    def kept(self) -> int:
        return sum(v.kept for v in self.verdicts)

    @property
    def ok(self) -> bool:
        """No ship-blocking falsifier failed or errored, and every contract loaded."""
        return not self.diagnostics and not any(c.blocking_failures for c in self.contracts)


class VerifyError(Exception):
    """A selection or environment problem that stops verify before anything runs."""


class VerifyInputError(VerifyError):
    """Contracts that do not load: nothing runs, and the diagnostics say what to fix."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        files = sorted({d.file for d in diagnostics})
        super().__init__(f"{len(files)} contract file(s) do not load ({', '.join(files)}); nothing was run")
        self.diagnostics = diagnostics


def select(planned: list[Planned], patterns: list[str]) -> list[Planned]:
    """Keep falsifiers whose id matches any pattern (exact id or shell glob, case-insensitive)."""
    if not patterns:
        return planned
    chosen = [p for p in planned if any(fnmatch.fnmatchcase(p.falsifier.id.upper(), pat.upper())
                                        for pat in patterns)]
    unmatched = [pat for pat in patterns
                 if not any(fnmatch.fnmatchcase(p.falsifier.id.upper(), pat.upper()) for p in planned)]
    if unmatched:
        raise VerifyError(f"no falsifier matches -k {', '.join(unmatched)} in the selected contracts")
    return chosen


def verify(ws: Workspace, paths: list[Path], *, patterns: list[str] | None = None, live: bool = False,
           write: bool = True, timeout_s: float | None = None, changed: bool = False, workers: int = 0,
           progress: Progress | None = None) -> VerifyReport:
    """Run the falsifiers of the contracts at ``paths`` and, with ``write``, merge the verdicts into
    ``ws.ledger_file``; with ``changed``, run only those without a fresh verdict in the ledger.

    Raises :class:`VerifyInputError` when a contract does not load and :class:`VerifyError` for a
    selection that matches nothing: a run on broken input would report a misleading 0/0.
    """
    start = time.perf_counter()
    progress = progress or Progress()
    if write:
        try:
            check_writable(ws.ledger_file)  # before any test runs, not after minutes of them
        except LedgerError as exc:
            raise VerifyError(str(exc)) from None
    loaded = ws.load(paths)
    diagnostics = [d for lc in loaded for d in lc.diagnostics]
    if diagnostics:
        raise VerifyInputError(diagnostics)
    planned = select(plan(loaded, ws.test_index), patterns or [])
    if not planned:
        raise VerifyError("the selected contracts declare no falsifiers; nothing to verify")
    if workers and importlib.util.find_spec("xdist") is None:
        raise VerifyError("-n needs pytest-xdist (pip install pytest-xdist)")
    root, digests, target = ws.root, ws.digests, ws.ledger_file
    old = _read_quietly(target)

    verdicts: dict[int, Verdict] = {}
    to_run: list[Planned] = []
    live_runs: list[Planned] = []
    for p in planned:
        kind = p.binding.kind
        # --changed keeps every fresh verdict; without it, a LIVE falsifier that is not run this time
        # shows the fresh, evidence-backed verdict the ledger holds rather than "live-not-run".
        keep = changed or (kind is BindingKind.LIVE and not live)
        kept = _fresh(old, p, digests) if keep else None
        if kept is not None:
            verdicts[id(p)] = Verdict(kept, p, kept=True)
        elif kind is BindingKind.UNBOUND:
            verdicts[id(p)] = Verdict(make_entry(p, root, Outcome.NOT_BOUND, "no `test:` binding"), p)
        elif kind is BindingKind.LIVE:
            if live:
                live_runs.append(p)
            else:
                verdicts[id(p)] = Verdict(make_entry(p, root, Outcome.LIVE_NOT_RUN,
                                                     "LIVE command not run; use `pv verify --live` to run it"), p)
        elif not p.resolution.resolved:
            hint = f" (did you mean {p.resolution.suggestion}?)" if p.resolution.suggestion else ""
            verdicts[id(p)] = Verdict(make_entry(p, root, Outcome.ERROR,
                                                 f"binding does not resolve: {p.resolution.problem}{hint}"), p)
        else:
            to_run.append(p)

    if live_runs:  # LIVE evidence lands in the evidence folder: it too must stay inside the repository
        try:
            safe_repo_path(root, ws.settings.evidence_dir)
        except UnsafePath as exc:
            raise VerifyError(f"the evidence folder {exc}") from None

    report = VerifyReport([], diagnostics, None)
    progress.start(len(to_run) + len(live_runs), sum(v.kept for v in verdicts.values()))
    try:
        if to_run:
            by_node: dict[str, list[Planned]] = {}
            for p in to_run:
                by_node.setdefault(p.node_id or "", []).append(p)

            def node_done(node: str, results: CollectedResults) -> None:
                for p in by_node.get(node, []):
                    outcome, reason, duration = outcome_for(node, results, 0)
                    progress.done(Verdict(make_entry(p, root, outcome, reason, duration), p))

            results, report.pytest_exit, report.pytest_output = run_pytest(
                root, to_run, timeout_s=timeout_s, workers=workers, on_node=node_done)
            for p in to_run:
                node = p.node_id or ""
                outcome, reason, duration = outcome_for(node, results, report.pytest_exit)
                inputs = fold_inputs([r for r in results.tests.values() if base_node_id(r.node_id) == node])
                entry = make_entry(p, root, outcome, reason, duration,
                                   inputs=record_inputs(root, inputs, digests) if inputs is not None else None)
                verdicts[id(p)] = Verdict(entry, p)
        if live_runs:
            for p, entry, output in run_live(live_runs, ws, timeout_s=timeout_s):
                verdicts[id(p)] = Verdict(entry, p, output)
                progress.done(verdicts[id(p)])
    finally:
        progress.close()

    by_contract: dict[str, ContractVerdicts] = {}
    for lc in loaded:
        if lc.contract is not None:
            by_contract.setdefault(lc.display, ContractVerdicts(lc))
    for p in planned:
        by_contract[p.contract.display].verdicts.append(verdicts[id(p)])
    report.contracts = [c for c in by_contract.values() if c.verdicts or not patterns]
    if write:
        report.ledger_file = target
        everything = not patterns and {q.resolve() for q in paths} == {q.resolve() for q in ws.contract_files}
        declared = {p.falsifier.id for p in planned} if everything else None
        update_ledger(target, [v.entry for v in report.verdicts if not v.kept], keep_only=declared)
    report.duration_s = round(time.perf_counter() - start, 3)
    return report


def _read_quietly(path: Path) -> Ledger | None:
    try:
        return read_ledger(path)
    except LedgerError:
        return None  # --changed then re-runs everything, and the write replaces the unreadable file


def _fresh(ledger: Ledger | None, p: Planned, digests: Digests) -> LedgerEntry | None:
    """The ledger's verdict for ``p`` when it may be kept instead of re-running, else None."""
    entry = ledger.entries.get(p.falsifier.id) if ledger else None
    if entry is None or entry.contract_id != p.contract.id:
        return None
    if entry.outcome not in (Outcome.PASS, Outcome.FAIL, Outcome.SKIPPED):
        return None  # errors are often the environment's (a timeout, a missing dependency): try again
    if p.binding.kind is BindingKind.LIVE:
        if entry.evidence is None:
            return None
        from pv.evidence import evidence_problems

        if evidence_problems(digests.root, entry, p.falsifier):
            return None
    elif not p.resolution.resolved:
        return None
    return entry if why_stale(entry, p.falsifier, digests, node_id=p.node_id) is None else None


def run_pytest(root: Path, planned: list[Planned], *, timeout_s: float | None = None, workers: int = 0,
               on_node: Callable[[str, CollectedResults], None] | None = None,
               ) -> tuple[CollectedResults, int | None, str]:
    """Run the bound tests in one pytest subprocess (spread over ``workers`` xdist processes when > 0).

    Returns per-node results, exit status (None: timed out or did not start) and output. While it
    runs, ``on_node(node_id, results)`` is called as each test (all its parametrizations) finishes.
    """
    node_ids = sorted({p.node_id for p in planned if p.node_id})
    files = sorted({n.split("::", 1)[0] for n in node_ids})
    with tempfile.TemporaryDirectory(prefix="pv-verify-") as tmp:
        results_file, select_file = Path(tmp) / "results.json", Path(tmp) / "select.json"
        progress_file, output_file = Path(tmp) / "progress.jsonl", Path(tmp) / "output.txt"
        select_file.write_text(json.dumps(node_ids), encoding="utf-8")
        progress_file.touch()
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
               "--continue-on-collection-errors", "--pv-results", str(results_file), "--pv-select",
               str(select_file), "--pv-progress", str(progress_file)]
        env = dict(os.environ)
        if env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
            cmd[3:3] = ["-p", "pv.pytest_plugin"] + (["-p", "xdist.plugin"] if workers else [])
        if workers:  # a module's tests stay on one worker: module-scoped fixtures are not set up twice
            cmd += ["-n", str(workers), "--dist", "loadscope"]
        cmd += files
        with output_file.open("w", encoding="utf-8", errors="replace") as out:
            exit_status = _wait_reporting(cmd, root, env, out, progress_file, timeout_s, on_node)
        output = output_file.read_text(encoding="utf-8", errors="replace")
        if exit_status is None:
            return CollectedResults(), None, output + f"\npytest timed out after {timeout_s} s"
        if not results_file.is_file():
            return CollectedResults(), exit_status, output
        results = CollectedResults.from_json(results_file.read_text(encoding="utf-8"))
    return results, exit_status, output


def _wait_reporting(cmd: list[str], root: Path, env: dict[str, str], out: object, progress_file: Path,
                    timeout_s: float | None, on_node: Callable[[str, CollectedResults], None] | None) -> int | None:
    """Run ``cmd`` in its own session, feeding progress lines to ``on_node``; kill the group on timeout."""
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,  # type: ignore[arg-type]
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    offset = 0
    try:
        while True:
            try:
                status: int | None = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            offset = _feed(progress_file, offset, on_node)
            if deadline is not None and time.monotonic() > deadline:
                _kill_group(proc)
                status = None
                break
    except BaseException:
        _kill_group(proc)
        raise
    _feed(progress_file, offset, on_node)
    return status


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _feed(path: Path, offset: int, on_node: Callable[[str, CollectedResults], None] | None) -> int:
    """Pass each complete new progress line to ``on_node``; returns the new offset."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except OSError:
        return offset
    end = chunk.rfind(b"\n") + 1
    for line in chunk[:end].splitlines():
        try:
            event = json.loads(line)
            records = {r["node_id"]: TestRecord(**r) for r in event["records"]}
        except (ValueError, KeyError, TypeError):
            continue
        if on_node is not None:
            on_node(event["node"], CollectedResults(tests=records))
    return offset + end


def outcome_for(node_id: str, results: CollectedResults, exit_status: int | None) -> tuple[Outcome, str | None, float]:
    """Fold every parametrization of ``node_id`` into one outcome (any error, then any fail, wins)."""
    records = [r for r in results.tests.values() if base_node_id(r.node_id) == node_id]
    if not records:
        file = node_id.split("::", 1)[0]
        for where, message in results.collect_errors.items():
            if where in ("", ".") or file == where or file.startswith(where.rstrip("/") + "/"):
                return Outcome.ERROR, f"collection error in {where or 'session'}: {message}", 0.0
        if exit_status is None:
            return Outcome.ERROR, "pytest timed out or could not start; see its output", 0.0
        return Outcome.ERROR, (f"pytest did not run {node_id} (exit status {exit_status}); the test may be "
                               "defined dynamically or deselected by the repo's pytest config"), 0.0
    duration = sum(r.duration_s for r in records)
    for kind in ("error", "fail"):
        bad = [r for r in records if r.outcome == kind]
        if bad:
            return Outcome(kind), _case_reason(bad, records), duration
    if all(r.outcome == "skipped" for r in records):
        return Outcome.SKIPPED, records[0].reason or "skipped", duration
    skipped = [r for r in records if r.outcome == "skipped"]
    note = f"{len(records) - len(skipped)}/{len(records)} cases passed, {len(skipped)} skipped" if skipped else None
    return Outcome.PASS, note, duration


def _case_reason(bad: list[TestRecord], records: list[TestRecord]) -> str:
    first = bad[0]
    if len(records) == 1:
        return first.reason or first.outcome
    return f"{len(bad)}/{len(records)} cases: {first.node_id.rsplit('::', 1)[-1]}: {first.reason or first.outcome}"


def record_pytest_results(rootpath: Path, results: CollectedResults, ledger_file: str | None) -> str:
    """``pytest --pv-ledger``: record every contract falsifier whose bound test ran in this session."""
    root = find_root(rootpath)
    try:
        settings = settings_for(root)
    except ConfigError as exc:
        return f"ledger left unchanged: {exc}"
    ws = Workspace(root, settings, ledger_file=Path(ledger_file) if ledger_file else None)
    rebased = CollectedResults(
        tests={_rebase(k, rootpath, root): TestRecord(_rebase(k, rootpath, root), v.outcome, v.reason, v.duration_s,
                                                      v.inputs)
               for k, v in results.tests.items()},
        collect_errors={_rebase(k, rootpath, root): v for k, v in results.collect_errors.items()},
        exit_status=results.exit_status,
    )
    planned = plan(ws.contracts, ws.test_index)
    ran = {base_node_id(n) for n in rebased.tests}
    digests = ws.digests
    entries = []
    for p in planned:
        if p.node_id and p.node_id in ran:
            outcome, reason, duration = outcome_for(p.node_id, rebased, rebased.exit_status)
            inputs = fold_inputs([r for r in rebased.tests.values() if base_node_id(r.node_id) == p.node_id])
            entries.append(make_entry(p, root, outcome, reason, duration, source="pytest --pv-ledger",
                                      inputs=record_inputs(root, inputs, digests) if inputs is not None else None))
    target = ws.ledger_file
    if not entries:
        return f"no contract-bound test ran; {target} left unchanged"
    update_ledger(target, entries)
    failed = sum(e.outcome.failed for e in entries)
    return f"recorded {len(entries)} falsifier verdict(s) ({failed} failing) in {target}"


def _rebase(node_id: str, rootpath: Path, root: Path) -> str:
    if rootpath.resolve() == root.resolve() or not node_id:
        return node_id
    file, sep, rest = node_id.partition("::")
    try:
        rel = (rootpath / file).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return node_id
    return rel + sep + rest
