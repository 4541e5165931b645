"""The verdict ledger: what happened the last time each falsifier was run, and from which inputs.

``pv verify`` (and ``pytest --pv-ledger``) write it; ``pv status``, ``pv promote``, ``pv coverage``
and lint gate 6 read it. An entry only supports a status claim while it is *fresh*: its contract
entry and every input file it recorded still have the digests it was reached from
(``pv.freshness``). A pass recorded before someone edited the code it ran proves nothing about
the edit; an edit to anything else leaves it standing.

The file (``.pv/ledger.json``) is committed with the code, so a fresh clone (and CI) sees the
verdicts the contracts' statuses rest on and re-runs only what is stale. It is written for merging:
keys sorted, two-space indented, one entry per falsifier, no timestamp of the whole file and no
absolute path; ``recorded_at`` and ``duration_s`` are informational and never decide freshness.
After a merge conflict in it, take either side and run ``pv verify --changed``. It is replaced
atomically, so a crashed or concurrent run leaves either the old ledger or the new one.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pv.fileio import NotRegularFile, atomic_write_text, file_kind, read_text

LEDGER_PATH = Path(".pv") / "ledger.json"
LEDGER_VERSION = 2


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # setup/collection error, unresolved binding, a check that cannot be evaluated
    SKIPPED = "skipped"  # always carries the skip reason
    NOT_BOUND = "not-bound"
    LIVE_NOT_RUN = "live-not-run"
    CMD_NOT_RUN = "cmd-not-run"  # `pv verify --no-cmd`

    @property
    def failed(self) -> bool:
        return self in (Outcome.FAIL, Outcome.ERROR)

    @property
    def not_run(self) -> bool:
        return self in (Outcome.LIVE_NOT_RUN, Outcome.CMD_NOT_RUN)


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    falsifier_id: str
    contract_id: str
    outcome: Outcome
    reason: str | None = None
    ship_blocking: bool = True
    binding: str | None = None
    node_id: str | None = None
    duration_s: float = 0.0
    contract_file: str | None = None
    entry_sha256: str | None = Field(default=None, description="digest of the falsifier's contract entry")
    inputs: dict[str, str | None] | None = Field(
        default=None, description="repo-relative path (or glob:PATTERN) -> sha256 of what the verdict was reached "
                                  "from; null: the file did not exist. None: not recorded (never fresh)")
    evidence: str | None = Field(default=None, description="repo-relative evidence folder (LIVE runs)")
    evidence_sha256: str | None = Field(default=None, description="sha256 of the evidence folder's record.json")
    exit_code: int | None = Field(default=None, description="CMD and LIVE bindings: the command's exit status "
                                                            "(None when it timed out or could not start)")
    timed_out: bool = Field(default=False, description="the command or pytest run hit its timeout and its "
                                                       "process group was killed")
    output_tail: str | None = Field(default=None, description="CMD bindings: the end of the command's output")
    recorded_at: dt.datetime
    source: str = "pv verify"


class MutationVerdict(StrEnum):
    STRONG = "STRONG"  # the test killed at least one mutant of its subject
    INERT = "INERT"  # mutants ran, and the test killed none: it cannot fail when its subject is broken
    NO_SUBJECT = "NO-SUBJECT"  # no mutant to make: the test runs no project code (or none that mutates)
    ERROR = "ERROR"  # no verdict: the test does not pass unmutated, or a run could not be made


class Survivor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file: str
    line: int
    diff: str  # original -> mutant, one line


class MutationEntry(BaseModel):
    """What ``pv mutate`` found for one falsifier's test, and from which inputs (freshness as for verdicts)."""

    model_config = ConfigDict(extra="ignore")

    falsifier_id: str
    contract_id: str
    verdict: MutationVerdict
    reason: str | None = None
    ship_blocking: bool = True
    node_id: str | None = None
    subject: list[str] = Field(default_factory=list, description="repo-relative files mutated, with line counts")
    generated: int = 0
    killed: int = 0
    survived: int = 0
    timed_out: int = 0
    incompetent: int = Field(default=0, description="mutants that do not import or collect: neither kill nor survive")
    not_run: int = Field(default=0, description="mutants made but left out by --max-mutants (an even sample ran)")
    survivors: list[Survivor] = Field(default_factory=list)
    clean_s: float = Field(default=0.0, description="seconds the clean run took (with coverage); sets the timeout")
    entry_sha256: str | None = None
    inputs: dict[str, str | None] | None = None
    recorded_at: dt.datetime

    @property
    def detected(self) -> int:
        return self.killed + self.timed_out

    @property
    def competent(self) -> int:
        return self.killed + self.survived + self.timed_out

    @property
    def score(self) -> float | None:
        """Mutation score in percent: detected (killed or timed out) / competent mutants; None without any."""
        return round(100.0 * self.detected / self.competent, 2) if self.competent else None


class Ledger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = LEDGER_VERSION
    entries: dict[str, LedgerEntry] = Field(default_factory=dict)
    mutations: dict[str, MutationEntry] | None = Field(
        default=None, description="pv mutate's verdicts, by falsifier id, beside the test verdicts")

    def merged(self, new: list[LedgerEntry], keep_only: set[str] | None = None) -> Ledger:
        """A copy with ``new`` replacing older entries of the same falsifier ids; with ``keep_only``,
        entries of falsifiers no contract declares any more are dropped."""
        entries = {k: e for k, e in self.entries.items() if keep_only is None or k in keep_only}
        for entry in new:
            old = entries.get(entry.falsifier_id)
            if entry.outcome.not_run and old is not None and not old.outcome.not_run \
                    and old.binding == entry.binding and (old.evidence is not None or entry.outcome is
                                                          Outcome.CMD_NOT_RUN):
                continue  # a run without --live (or with --no-cmd) must not erase the last real verdict
            if old is not None and (entry.outcome is Outcome.NOT_BOUND or entry.outcome.not_run) and \
                    (old.outcome, old.entry_sha256, old.reason) == (entry.outcome, entry.entry_sha256, entry.reason):
                continue  # nothing ran and nothing changed: keep the file byte-identical (a clean git status)
            entries[entry.falsifier_id] = entry
        mutations = {k: m for k, m in (self.mutations or {}).items() if keep_only is None or k in keep_only}
        return Ledger(entries=dict(sorted(entries.items())), mutations=mutations or None)

    def with_mutations(self, new: list[MutationEntry]) -> Ledger:
        """A copy with ``new`` replacing the mutation verdicts of the same falsifier ids."""
        mutations = dict(self.mutations or {})
        mutations.update({m.falsifier_id: m for m in new})
        return Ledger(entries=self.entries, mutations=dict(sorted(mutations.items())) or None)


class LedgerError(Exception):
    """The ledger file exists but cannot be read; the message says how to recover."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def ledger_path(root: Path, override: Path | None = None) -> Path:
    if override is None:
        return root / LEDGER_PATH
    return override if override.is_absolute() else root / override


def read_ledger(path: Path) -> Ledger | None:
    """The ledger at ``path``, or None when there is none yet."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        return None
    except NotRegularFile as exc:
        raise LedgerError(_not_a_file(path, exc.kind)) from None
    except OSError as exc:
        raise LedgerError(f"{path}: cannot read the ledger: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise LedgerError(f"{path}: not a pv ledger (not UTF-8: byte {exc.start} is {exc.object[exc.start]:#04x}); "
                          "delete it and run `pv verify` again") from None
    try:
        return Ledger.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise LedgerError(f"{path}: not a pv ledger ({first['msg']} at {'.'.join(map(str, first['loc']))}); "
                          "delete it and run `pv verify` again") from None


def check_writable(path: Path) -> None:
    """``LedgerError`` when the ledger cannot be written at ``path`` (something other than a file is there)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LedgerError(f"{path}: cannot use it as the ledger: {exc.strerror}") from None
    kind = file_kind(mode)
    if kind != "regular file":
        raise LedgerError(_not_a_file(path, kind))


def _not_a_file(path: Path, kind: str) -> str:
    return f"{path}: the ledger path is a {kind}, not a file; remove it, or pass --ledger FILE"


def write_ledger(path: Path, ledger: Ledger) -> None:
    """Write atomically (temp file, fsync, rename) in the stable, merge-friendly form."""
    check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_ledger(ledger))


def render_ledger(ledger: Ledger) -> str:
    data = ledger.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def update_ledger(path: Path, entries: list[LedgerEntry], keep_only: set[str] | None = None) -> Ledger:
    """Merge ``entries`` into the ledger at ``path`` (an unreadable old ledger is replaced)."""
    ledger = _current(path).merged(entries, keep_only)
    write_ledger(path, ledger)
    return ledger


def update_mutations(path: Path, entries: list[MutationEntry]) -> Ledger:
    """Merge mutation verdicts into the ledger at ``path``, keeping every test verdict as it is."""
    ledger = _current(path).with_mutations(entries)
    write_ledger(path, ledger)
    return ledger


def _current(path: Path) -> Ledger:
    """The ledger at ``path`` to merge into: an empty one when there is none or it cannot be read."""
    try:
        return read_ledger(path) or Ledger()
    except LedgerError:
        return Ledger()


def brief(reason: str | None, limit: int = 240) -> str:
    """The first line of a (possibly long, multi-line) reason, for one-line displays."""
    if not reason:
        return ""
    line = reason.strip().splitlines()[0] if reason.strip() else ""
    more = len(reason.strip().splitlines()) > 1
    if len(line) > limit:
        return line[: limit - 1] + "…"
    return line + (" …" if more else "")

