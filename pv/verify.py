"""``pv verify`` as a library: run every selected falsifier's bound test, record verdicts in the ledger.

All bound pytest tests run in ONE pytest subprocess (fresh interpreter: no module caching between
runs, and a crashing test cannot take pv down), driven through pv's own pytest plugin, which
writes per-node outcomes to a JSON file. Outcomes are then mapped back to falsifier ids: a
binding covers every parametrization of its test, and any failing case fails the falsifier.

CMD bindings (``CMD: cargo test …``) run next, one by one, each in its own process group; the
exit status is the verdict (``pv.cmdrun``). They run by default (``cmd=False``, ``--no-cmd``,
skips them), never from validate or lint.

LIVE bindings are shell commands from the contract, i.e. untrusted input: they run only when
the caller passes ``live=True`` (``pv verify --live``), never from validate or lint.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pv import procrun
from pv.binding import BindingKind
from pv.cmdrun import effective_timeout, run_cmd
from pv.config import ConfigError, settings_for
from pv.diagnostics import Diagnostic
from pv.freshness import GLOB, Digests, record_inputs, why_stale
from pv.ledger import Ledger, LedgerEntry, LedgerError, Outcome, check_writable, read_ledger, update_ledger
from pv.live import run_live
from pv.loader import LoadedContract
from pv.plan import Planned, make_entry, plan
from pv.pytest_results import CollectedResults, TestRecord, base_node_id, fold_inputs, progress_path, read_progress
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


@dataclass
class _Queues:
    """What a run does with each planned falsifier: a verdict already decided, or a queue to run it in."""

    verdicts: dict[int, Verdict] = field(default_factory=dict)
    tests: list[Planned] = field(default_factory=list)
    commands: list[Planned] = field(default_factory=list)
    lives: list[Planned] = field(default_factory=list)

    @property
    def to_run(self) -> int:
        return len(self.tests) + len(self.commands) + len(self.lives)


def verify(ws: Workspace, paths: list[Path], *, patterns: list[str] | None = None, live: bool = False,
           write: bool = True, timeout_s: float | None = None, changed: bool = False, workers: int = 0,
           progress: Progress | None = None, cmd: bool = True) -> VerifyReport:
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
    loaded, planned = planned_for(ws, paths, patterns or [], "verify")
    if workers and importlib.util.find_spec("xdist") is None:
        raise VerifyError("-n needs pytest-xdist (pip install pytest-xdist)")
    queues = _queue(planned, _read_quietly(ws.ledger_file), ws.digests, ws.root, changed=changed, live=live, cmd=cmd)
    if queues.lives:  # LIVE evidence lands in the evidence folder: it too must stay inside the repository
        try:
            safe_repo_path(ws.root, ws.settings.evidence_dir)
        except UnsafePath as exc:
            raise VerifyError(f"the evidence folder {exc}") from None

    report = VerifyReport([], [], None)  # contracts that do not load stop the run before this
    progress.start(queues.to_run, sum(v.kept for v in queues.verdicts.values()))
    try:
        if queues.tests:
            _run_tests(queues, ws, report, progress, timeout_s=timeout_s, workers=workers)
        for p in queues.commands:
            queues.verdicts[id(p)] = _run_command(p, ws, timeout_s)
            progress.done(queues.verdicts[id(p)])
        if queues.lives:
            for p, entry, output in run_live(queues.lives, ws, timeout_s=timeout_s):
                queues.verdicts[id(p)] = Verdict(entry, p, output)
                progress.done(queues.verdicts[id(p)])
    finally:
        progress.close()

    by_contract = {lc.display: ContractVerdicts(lc) for lc in loaded if lc.contract is not None}
    for p in planned:
        by_contract[p.contract.display].verdicts.append(queues.verdicts[id(p)])
    report.contracts = [c for c in by_contract.values() if c.verdicts or not patterns]
    if write:
        report.ledger_file = ws.ledger_file
        everything = not patterns and {q.resolve() for q in paths} == {q.resolve() for q in ws.contract_files}
        declared = {p.falsifier.id for p in planned} if everything else None
        update_ledger(ws.ledger_file, [v.entry for v in report.verdicts if not v.kept], keep_only=declared)
    report.duration_s = round(time.perf_counter() - start, 3)
    return report


def planned_for(ws: Workspace, paths: list[Path], patterns: list[str],
                what: str) -> tuple[list[LoadedContract], list[Planned]]:
    """The contracts at ``paths`` and their falsifiers matching ``patterns``; raises :class:`VerifyInputError`
    when a contract does not load and :class:`VerifyError` when nothing is selected (never a 0/0 run)."""
    loaded = ws.load(paths)
    diagnostics = [d for lc in loaded for d in lc.diagnostics]
    if diagnostics:
        raise VerifyInputError(diagnostics)
    planned = select(plan(loaded, ws.test_index), patterns)
    if not planned:
        raise VerifyError(f"the selected contracts declare no falsifiers; nothing to {what}")
    return loaded, planned


def _queue(planned: list[Planned], old: Ledger | None, digests: Digests, root: Path, *, changed: bool, live: bool,
           cmd: bool) -> _Queues:
    """Each falsifier's fate before anything runs: a kept fresh verdict, why it cannot run, or a queue."""
    q = _Queues()
    for p in planned:
        kind = p.binding.kind
        # --changed keeps every fresh verdict; without it, a LIVE falsifier that is not run this time
        # (and a CMD one under --no-cmd) shows the fresh verdict the ledger holds rather than "not run".
        keep = changed or (kind is BindingKind.LIVE and not live) or (kind is BindingKind.CMD and not cmd)
        kept = _fresh(old, p, digests) if keep else None
        if kept is not None:
            q.verdicts[id(p)] = Verdict(kept, p, kept=True)
        elif kind is BindingKind.UNBOUND:
            q.verdicts[id(p)] = Verdict(make_entry(p, root, Outcome.NOT_BOUND, "no `test:` binding"), p)
        elif kind in (BindingKind.CMD, BindingKind.LIVE):
            wanted, queue, skipped, why = (
                (cmd, q.commands, Outcome.CMD_NOT_RUN, "CMD command not run (--no-cmd)") if kind is BindingKind.CMD
                else (live, q.lives, Outcome.LIVE_NOT_RUN, "LIVE command not run; use `pv verify --live` to run it"))
            if wanted:
                queue.append(p)
            else:
                q.verdicts[id(p)] = Verdict(make_entry(p, root, skipped, why), p)
        elif not p.resolution.resolved:
            hint = f" (did you mean {p.resolution.suggestion}?)" if p.resolution.suggestion else ""
            q.verdicts[id(p)] = Verdict(make_entry(p, root, Outcome.ERROR,
                                                   f"binding does not resolve: {p.resolution.problem}{hint}"), p)
        else:
            q.tests.append(p)
    return q


def _run_tests(queues: _Queues, ws: Workspace, report: VerifyReport, progress: Progress, *,
               timeout_s: float | None, workers: int) -> None:
    """The bound pytest tests, in one pytest run; progress is reported as each test finishes."""
    root = ws.root
    by_node: dict[str, list[Planned]] = {}
    for p in queues.tests:
        by_node.setdefault(p.node_id or "", []).append(p)

    def node_done(node: str, results: CollectedResults) -> None:
        for p in by_node.get(node, []):
            outcome, reason, duration = outcome_for(node, results, 0)
            progress.done(Verdict(make_entry(p, root, outcome, reason, duration), p))

    results, report.pytest_exit, report.pytest_output = run_pytest(
        root, queues.tests, timeout_s=timeout_s, workers=workers, on_node=node_done)
    for p in queues.tests:
        node = p.node_id or ""
        outcome, reason, duration = outcome_for(node, results, report.pytest_exit)
        inputs = fold_inputs([r for r in results.tests.values() if base_node_id(r.node_id) == node])
        entry = make_entry(p, root, outcome, reason, duration,
                           inputs=record_inputs(root, inputs, ws.digests) if inputs is not None else None,
                           timed_out=cut_by_timeout(node, results) is not None)
        queues.verdicts[id(p)] = Verdict(entry, p)


def _run_command(p: Planned, ws: Workspace, timeout_s: float | None) -> Verdict:
    """One CMD: binding. An opaque command may read anything: its inputs are the files its `inputs:`
    globs match, or every non-ignored file of the repository without them."""
    ft = p.falsifier
    run = run_cmd(p.binding.command or "", ws.root, falsifier_id=ft.id, contract_id=p.contract.id,
                  timeout_s=effective_timeout(ft.timeout_s, timeout_s))
    inputs = record_inputs(ws.root, [GLOB + pattern for pattern in ft.inputs or ["**"]], ws.digests)
    return Verdict(make_entry(p, ws.root, run.outcome, run.reason, run.result.duration_s, inputs=inputs,
                              exit_code=run.result.exit_code, timed_out=run.result.timed_out,
                              output_tail=run.output_tail), p, run.result.output_tail)


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
    elif p.binding.kind is not BindingKind.CMD and not p.resolution.resolved:
        return None
    return entry if why_stale(entry, p.falsifier, digests, node_id=p.node_id) is None else None


PYTEST_OUTPUT_CHARS = 200_000


def run_pytest(root: Path, planned: list[Planned], *, timeout_s: float | None = None, workers: int = 0,
               on_node: Callable[[str, CollectedResults], None] | None = None,
               ) -> tuple[CollectedResults, int | None, str]:
    """Run the bound tests in one pytest subprocess (spread over ``workers`` xdist processes when > 0).

    Returns per-node results, exit status (None: timed out or did not start) and output. While it
    runs, ``on_node(node_id, results)`` is called as each test (all its parametrizations) finishes.
    The run has its own process group (``pv.procrun``): on a timeout the whole group is killed,
    xdist workers and anything the tests started included. The tests that finished before the kill
    keep their outcomes (the plugin logs each one as it finishes).
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
        offset = 0

        def tick() -> None:
            nonlocal offset
            offset = _feed(progress_file, offset, on_node)

        with output_file.open("wb") as out:
            run = procrun.run(cmd, cwd=root, env=env, timeout_s=timeout_s, stdout=out,
                              tail_chars=PYTEST_OUTPUT_CHARS, on_tick=tick)
        tick()
        output = run.output_tail
        if run.start_error:
            return CollectedResults(), None, f"pytest could not start: {run.start_error}"
        if run.timed_out:
            output += f"\npytest timed out after {timeout_s:g} s; its whole process group was killed"
            return read_progress(progress_path(results_file)), None, output
        if not results_file.is_file():
            return CollectedResults(), run.exit_code, output
        results = CollectedResults.from_json(results_file.read_text(encoding="utf-8"))
    return results, run.exit_code, output


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
    cut = cut_by_timeout(node_id, results)
    if cut is not None:
        return Outcome.ERROR, cut, sum(r.duration_s for r in records)
    if not records:
        file = node_id.split("::", 1)[0]
        for where, message in results.collect_errors.items():
            if where in ("", ".") or file == where or file.startswith(where.rstrip("/") + "/"):
                return Outcome.ERROR, f"collection error in {where or 'session'}: {message}", 0.0
        if exit_status is None:
            return Outcome.ERROR, "pytest could not start; see its output", 0.0
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


def cut_by_timeout(node_id: str, results: CollectedResults) -> str | None:
    """Why a pytest run killed on its timeout left ``node_id`` (any of its cases) without a verdict."""
    if not results.timed_out:
        return None
    running = [n for n in results.unfinished if base_node_id(n) == node_id]
    if running:
        case = "" if running[0] == node_id else f" ({running[0].rsplit('::', 1)[-1]})"
        return f"pytest timed out while this test{case} was running; its process group was killed"
    unreached = [n for n in results.collected if base_node_id(n) == node_id and n not in results.tests]
    if unreached or not any(base_node_id(n) == node_id for n in results.tests):
        return "not run: pytest timed out before it reached this test"
    return None


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
