"""``pv promote`` as a library: check the promotion rules, then edit the contract's YAML in place.

A refusal lists every missing piece (not just the first), so one ``pv verify`` + fix cycle can
address all of them. An accepted promotion bumps the minor version, sets ``updated``, and appends
a changelog entry that names the ledger verdicts and evidence folders it relied on.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pv.assessment import TEST_KINDS, Assessment, assess
from pv.binding import BindingKind
from pv.diagnostics import Severity
from pv.enums import Status
from pv.fileio import atomic_write_text, read_text
from pv.freshness import inputs_digest
from pv.lint import lint
from pv.loader import load_contract
from pv.requirements import ledger_requirements, static_requirements
from pv.semver import bump_minor
from pv.workspace import Workspace
from pv.yaml_edit import EditError, edit_yaml_text, promotion_mutation


@dataclass
class PromotionResult:
    contract_file: str
    current: Status | None
    target: Status
    missing: list[str] = field(default_factory=list)
    version: str | None = None
    change: str | None = None
    diff: str = ""
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing


def promote(ws: Workspace, path: Path, target: Status, *, date: dt.date | None = None,
            dry_run: bool = False) -> PromotionResult:
    """Move the contract at ``path`` to ``target`` when the rules hold, reading verdicts from ``ws.ledger``.

    Raises ``LedgerError`` when the ledger exists but cannot be read: that is bad input, not a refusal.
    """
    shown = ws.display(path)
    (lc,) = ws.load([path])
    result = PromotionResult(shown, lc.contract.metadata.status if lc.contract else None, target)
    if lc.contract is None:
        result.missing = [f"the contract does not validate: {d.one_line()}" for d in lc.diagnostics]
        return result
    contract, current = lc.contract, lc.contract.metadata.status
    date = date or dt.date.today()
    ledger = ws.ledger

    if target is current:
        result.missing.append(f"the contract is already {current.value}")
        return result
    raising = target is not Status.DEPRECATED and target.rank > current.rank
    if raising:
        report = lint(ws, [path], strict_test_binding=True)
        for r in report.results:
            if r.name in ("status", "inert"):
                continue  # the current claim, which this promotion replaces; INERT counts in the requirements
            result.missing += [f"pv lint gate {r.name}: {d.one_line()}" for d in r.diagnostics
                               if d.severity is Severity.ERROR]
        result.missing += static_requirements(contract, target, ws)
        if ledger is None and target.rank >= Status.PARTIAL_ALGORITHM_LEVEL.rank \
                and not any("ledger" in m for m in result.missing):
            result.missing.append(f"no ledger at {ws.display(ws.ledger_file)} (run `pv verify` first)")
        assessment = assess(contract, ws, ledger)
        result.missing += ledger_requirements(assessment, target, ws)
    else:
        assessment = None
    log = contract.metadata.changelog
    if log and date < log[-1].date:
        result.missing.append(f"date {date} is before the newest changelog entry ({log[-1].date}); pass --date")
    if result.missing:
        return result

    result.version = bump_minor(contract.metadata.version)
    result.change = _change_text(current, target, assessment, ws.display(ws.ledger_file))
    text = read_text(path)  # it just validated: a regular UTF-8 file
    try:
        new_text = edit_yaml_text(text, promotion_mutation(target.value, result.version, date, result.change))
    except EditError as exc:
        result.missing.append(f"cannot edit {shown}: {exc}")
        return result
    result.diff = "".join(difflib.unified_diff(text.splitlines(True), new_text.splitlines(True),
                                               fromfile=shown, tofile=shown))
    check = _validate_text(path, new_text, shown)
    if check:
        result.missing.append(f"the edited contract would not validate: {check}")
        return result
    if not dry_run:
        atomic_write_text(path, new_text)
        result.written = True
    return result


def _change_text(current: Status, target: Status, assessment: Assessment | None, ledger_shown: str) -> str:
    """The changelog entry: exactly which verdicts were counted, from which ledger state, with which evidence."""
    head = f"Status {current.value} -> {target.value} (pv promote)"
    if assessment is None:
        return head + "; lowering a claim needs no evidence."
    if target.rank < Status.PARTIAL_ALGORITHM_LEVEL.rank:
        return head + "; this status rests on the contract's own text, not on verdicts."
    supports = assessment.supports
    tests = [s for s in supports if s.kind in TEST_KINDS]
    lives = [s for s in supports if s.kind is BindingKind.LIVE]
    counted = [s for s in tests if s.fresh_pass]
    parts = [f"{len(counted)} of {len(tests)} non-LIVE falsifiers with a fresh pass"]
    if target is Status.ACTIVE_RUNTIME:
        live_passed = [s for s in lives if s.fresh_pass]
        counted += live_passed
        parts.append(f"{len(live_passed)} of {len(lives)} LIVE falsifiers with a fresh pass and evidence")
    state = inputs_digest({s.falsifier.id: f"{s.entry.entry_sha256}:{inputs_digest(s.entry.inputs or {})}"
                           for s in counted if s.entry is not None})
    text = (f"{head}: counted {' and '.join(parts)} ({len(supports)} declared) in {ledger_shown}, "
            f"inputs digest {state[:12]}")
    newest = max((s.entry.recorded_at for s in counted if s.entry is not None), default=None)
    if newest is not None:
        text += f", verified by {newest.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    evidence = sorted({s.entry.evidence for s in counted if s.entry is not None and s.entry.evidence})
    if evidence and target is Status.ACTIVE_RUNTIME:
        text += f"; LIVE evidence: {', '.join(evidence)}"
    return text + "."


def _validate_text(path: Path, text: str, shown: str) -> str | None:
    with tempfile.TemporaryDirectory(prefix="pv-promote-") as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text, encoding="utf-8")
        lc = load_contract(probe, shown)
    return None if lc.ok else "; ".join(d.one_line() for d in lc.diagnostics)
