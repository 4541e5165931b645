"""The falsifier table's columns, registered in one list.

Every falsifier table in the report (HTML and Markdown, index and contract pages) is drawn from
``FALSIFIER_COLUMNS``: a column is a header plus a function from a falsifier to a cell. Showing
a new kind of verdict (freshness, mutation strength, a command's exit code) is one ``Column``
appended here; no template changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pv.binding import BindingKind
from pv.ledger import Outcome, brief
from pv.site.model import STATE_HELP, FalsifierView, State


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""
    title: str | None = None  # shown on hover; the full text when ``text`` is shortened
    href: str | None = None  # relative to the site root
    code: bool = False  # render as code
    badge: bool = False  # render as a coloured pill (``css`` names its colour)
    sub: str | None = None  # a second, smaller line


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    cell: Callable[[FalsifierView], Cell]
    help: str = ""


def _falsifier(f: FalsifierView) -> Cell:
    return Cell(f.id, "fid", f.falsifier.rule, href=f"contracts/{f.contract_id}.html#{f.id}")


def _verdict(f: FalsifierView) -> Cell:
    reason = f.entry.reason if f.entry and f.entry.reason else STATE_HELP[f.state]
    if f.support.unresolved:
        reason = f.support.unresolved
    return Cell(f.state.value.upper(), f.state.css, reason, badge=True)


def _blocking(f: FalsifierView) -> Cell:
    return Cell("yes" if f.falsifier.ship_blocking else "advisory", "blocking" if f.falsifier.ship_blocking else "")


def _test(f: FalsifierView) -> Cell:
    if f.source is not None:
        return Cell(f.source.location, "test", f.falsifier.test, code=True, sub=f.source.function.qualname)
    if f.kind in (BindingKind.LIVE, BindingKind.CMD):
        command = (f.falsifier.test or "").strip()
        return Cell(brief(command, 60), code=True, title=command)
    if f.kind is BindingKind.UNBOUND:
        return Cell("(unbound)", "muted")
    return Cell(f.falsifier.test or "", code=True, title=f.support.unresolved)


def _reason(f: FalsifierView) -> Cell:
    if f.support.unresolved:
        return Cell(brief(f.support.unresolved, 120), title=f.support.unresolved)
    if f.entry is None or not f.entry.reason:
        return Cell("")
    return Cell(brief(f.entry.reason, 120), title=f.entry.reason)


def _recorded(f: FalsifierView) -> Cell:
    e = f.entry
    if e is None or e.outcome.not_run or e.outcome is Outcome.NOT_BOUND:
        return Cell("—", "muted")
    when = e.recorded_at.strftime("%Y-%m-%d %H:%M")
    inputs = f"{len(e.inputs)} recorded input file(s)" if e.inputs is not None else "unrecorded inputs"
    return Cell(f"{when} · {e.duration_s:.2f}s", "nowrap",
                f"recorded {e.recorded_at.isoformat()} by {e.source} from {inputs}, took {e.duration_s:.3f} s")


def _freshness(f: FalsifierView) -> Cell:
    if f.entry is None or f.state in (State.LIVE_NOT_RUN, State.NOT_BOUND):
        return Cell("missing", "fresh-missing", "no verdict recorded")
    if f.support.stale:
        return Cell("stale", "fresh-stale", f.support.stale, sub=brief(f.support.stale, 80))
    return Cell("fresh", "fresh-fresh", "every file it depended on still hashes as recorded")


FALSIFIER_COLUMNS: list[Column] = [
    Column("falsifier", "falsifier", _falsifier),
    Column("verdict", "verdict", _verdict, "latest outcome, judged against the current code"),
    Column("blocking", "ship-blocking", _blocking),
    Column("test", "bound test", _test, "file:line of the bound test, or the CMD/LIVE command"),
    Column("freshness", "freshness", _freshness, "whether the verdict still describes the current code"),
    Column("recorded", "recorded (UTC · time)", _recorded),
    Column("reason", "reason", _reason),
]
