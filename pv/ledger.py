"""The verdict ledger: what happened the last time each falsifier was run, and against what code.

``pv verify`` (and ``pytest --pv-ledger``) write it; ``pv status``, ``pv promote``, ``pv coverage``
and lint gate 6 read it. An entry only supports a status claim while it is *fresh*: recorded at
the current git commit with the same uncommitted changes, against the same test file content and
the same binding. A pass recorded before someone edited the code proves nothing about the edit.

The file (``.pv/ledger.json`` by default, gitignored) is replaced atomically, so a crashed or
concurrent run leaves either the old ledger or the new one, never half of each.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pv.fileio import atomic_write_text
from pv.gitstate import RepoState

LEDGER_PATH = Path(".pv") / "ledger.json"
LEDGER_VERSION = 1


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
    commit: str | None = None
    worktree: str | None = Field(default=None, description="sha256 of `git diff HEAD` when verified; "
                                                           "'clean' for no uncommitted changes")
    contract_file: str | None = None
    contract_sha256: str | None = None
    test_file: str | None = None
    test_sha256: str | None = None
    evidence: str | None = Field(default=None, description="repo-relative evidence folder (LIVE runs)")
    exit_code: int | None = Field(default=None, description="CMD and LIVE bindings: the command's exit status "
                                                            "(None when it timed out or could not start)")
    timed_out: bool = Field(default=False, description="the command or pytest run hit its timeout and its "
                                                       "process group was killed")
    output_tail: str | None = Field(default=None, description="CMD bindings: the end of the command's output")
    inputs_sha256: str | None = Field(default=None, description="CMD bindings with `inputs:`: digest of the "
                                                                "matched files when the verdict was recorded")
    recorded_at: dt.datetime
    source: str = "pv verify"


class Ledger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = LEDGER_VERSION
    updated_at: dt.datetime | None = None
    entries: dict[str, LedgerEntry] = Field(default_factory=dict)

    def merged(self, new: list[LedgerEntry]) -> Ledger:
        """A copy with ``new`` replacing older entries of the same falsifier ids."""
        entries = dict(self.entries)
        for entry in new:
            old = entries.get(entry.falsifier_id)
            if entry.outcome.not_run and old is not None and not old.outcome.not_run \
                    and old.binding == entry.binding and (old.evidence is not None or entry.outcome is
                                                          Outcome.CMD_NOT_RUN):
                continue  # a run without --live (or with --no-cmd) must not erase the last real verdict
            entries[entry.falsifier_id] = entry
        return Ledger(updated_at=utc_now(), entries=dict(sorted(entries.items())))


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(f"{path}: cannot read the ledger: {exc.strerror}") from None
    try:
        return Ledger.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise LedgerError(f"{path}: not a pv ledger ({first['msg']} at {'.'.join(map(str, first['loc']))}); "
                          "delete it and run `pv verify` again") from None


def write_ledger(path: Path, ledger: Ledger) -> None:
    """Write atomically: a temp file in the same folder, fsync, then rename over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, ledger.model_dump_json(indent=2) + "\n")


def update_ledger(path: Path, entries: list[LedgerEntry]) -> Ledger:
    """Merge ``entries`` into the ledger at ``path`` (an unreadable old ledger is replaced)."""
    try:
        old = read_ledger(path) or Ledger()
    except LedgerError:
        old = Ledger()
    ledger = old.merged(entries)
    write_ledger(path, ledger)
    return ledger


def staleness(entry: LedgerEntry, state: RepoState, *, current_test_sha: str | None,
              current_node_id: str | None) -> str | None:
    """Why ``entry`` no longer describes the code in front of us, or None when it is fresh."""
    if current_node_id is not None and entry.node_id != current_node_id:
        return f"recorded for {entry.node_id or 'another binding'}, now bound to {current_node_id}"
    if state.commit is not None:
        if entry.commit != state.commit:
            was = entry.commit[:10] if entry.commit else "no commit"
            return f"recorded at {was}, HEAD is {state.commit[:10]}"
        if entry.worktree != state.worktree:
            return "uncommitted changes since it was recorded"
    if current_test_sha is not None and entry.test_sha256 != current_test_sha:
        return f"{entry.test_file or 'the test file'} changed since it was recorded"
    return None


def brief(reason: str | None, limit: int = 240) -> str:
    """The first line of a (possibly long, multi-line) reason, for one-line displays."""
    if not reason:
        return ""
    line = reason.strip().splitlines()[0] if reason.strip() else ""
    more = len(reason.strip().splitlines()) > 1
    if len(line) > limit:
        return line[: limit - 1] + "…"
    return line + (" …" if more else "")

