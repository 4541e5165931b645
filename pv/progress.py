"""Live progress for ``pv verify``, on stderr so stdout keeps only the final report (``--format json``).

On a terminal: a rich live table of the falsifiers finished so far, with done/total and elapsed
time, removed when the run ends (the final report follows on stdout). Elsewhere (CI logs, pipes):
one plain line per finished falsifier, so a log shows the run moving and where it stopped.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pv.ledger import Outcome, brief
from pv.verify import Progress, Verdict

STYLE = {Outcome.PASS: "green", Outcome.FAIL: "red", Outcome.ERROR: "red", Outcome.SKIPPED: "yellow",
         Outcome.NOT_BOUND: "dim", Outcome.LIVE_NOT_RUN: "cyan"}
LIVE_ROWS = 12  # the live table shows the most recent falsifiers; the final report shows them all


def progress_for(stream: TextIO | None = None) -> Progress:
    stream = stream or sys.stderr
    return LiveProgress(stream) if stream.isatty() else LineProgress(stream)


class StepLines:
    """One plain line per finished item, for logs and pipes: ``<command>: [ 3/38] <text>  (elapsed 14.2s)``.

    Shared by ``pv verify`` and ``pv mutate``; a closed or broken stream never stops the run.
    """

    command = "pv"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = self.count = 0
        self.t0 = time.perf_counter()

    def step(self, text: str, suffix: str = "") -> None:
        self.count += 1
        width, elapsed = len(str(self.total)), time.perf_counter() - self.t0
        self.line(f"[{self.count:>{width}}/{self.total}] {text}  (elapsed {elapsed:.1f}s){suffix}")

    def line(self, text: str) -> None:
        try:
            self.stream.write(f"{self.command}: {text}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


class LineProgress(StepLines, Progress):
    """``pv verify: [ 3/38] PASS    FALSIFY-TOK-001  1.23s  (elapsed 14.2s)``, one line each."""

    command = "pv verify"

    def start(self, to_run: int, kept: int) -> None:
        self.total, self.t0 = to_run, time.perf_counter()
        kept_note = f"; {kept} fresh verdict(s) kept from the ledger" if kept else ""
        self.line(f"running {to_run} falsifier(s){kept_note}")

    def done(self, verdict: Verdict) -> None:
        e = verdict.entry
        reason = f"  {brief(e.reason, 120)}" if e.outcome.failed and e.reason else ""
        self.step(f"{e.outcome.value.upper():<7} {e.falsifier_id}  {e.duration_s:.2f}s", reason)


class LiveProgress(Progress):
    """A rich live table on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.console = Console(file=stream, highlight=False)
        self.rows: list[Verdict] = []
        self.total = self.kept = 0
        self.t0 = time.perf_counter()
        self.live: Live | None = None

    def start(self, to_run: int, kept: int) -> None:
        self.total, self.kept, self.t0 = to_run, kept, time.perf_counter()
        if to_run:
            self.live = Live(self._render(), console=self.console, transient=True, refresh_per_second=4,
                             get_renderable=self._render)
            self.live.start()

    def done(self, verdict: Verdict) -> None:
        self.rows.append(verdict)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _render(self) -> Group:
        elapsed = time.perf_counter() - self.t0
        tbl = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("falsifier", "outcome", "time", "reason"):
            tbl.add_column(column, overflow="ellipsis", no_wrap=True)
        for v in self.rows[-LIVE_ROWS:]:
            e = v.entry
            style = STYLE[e.outcome]
            tbl.add_row(e.falsifier_id, f"[{style}]{e.outcome.value.upper()}[/{style}]", f"{e.duration_s:.2f}s",
                        escape(brief(e.reason, 80)) if e.outcome.failed and e.reason else "")
        kept = f", {self.kept} fresh kept" if self.kept else ""
        head = Text.from_markup(f"[bold]pv verify[/bold]: {len(self.rows)}/{self.total} done{kept}, "
                                f"elapsed {elapsed:.1f}s")
        return Group(head, tbl)
