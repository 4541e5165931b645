"""What a run tells its reader: plain per-step lines (stdout + ``train.log``), ``metrics.jsonl``, and a progress bar.

Only the main rank reports (the others get a disabled reporter), so a multi-process run writes
one log. The plain lines stay machine-greppable (``step=N loss=...``) even when the rich bar is on:
they are printed above it, never replaced by it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO


class Reporter:
    """Plain per-step lines (stdout + train.log), metrics.jsonl, and a rich bar on a TTY. Main rank only."""

    def __init__(self, out: Path, enabled: bool, total: int, progress: str, stream: TextIO | None = None,
                 append: bool = False) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self._bar = None
        self._task = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        mode = "a" if append else "w"  # a resumed run continues its log and metrics
        self._log = open(out / "train.log", mode, encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._metrics = open(out / "metrics.jsonl", mode, encoding="utf-8")  # noqa: SIM115
        use_bar = progress == "on" or (progress == "auto" and self.stream.isatty())
        if use_bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]apr pretrain"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("train", total=total)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)
        self._log.write(text + "\n")
        self._log.flush()

    def metric(self, record: dict[str, Any]) -> None:
        if self.enabled:
            self._metrics.write(json.dumps(record) + "\n")
            self._metrics.flush()

    def end_line(self) -> None:
        """Stop the bar and, on a terminal, start a fresh line (after an echoed ^C)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self.enabled and self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self.enabled:
            self._log.close()
            self._metrics.close()
