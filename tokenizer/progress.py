"""Progress reporting: a rich bar on a terminal, a plain line every few seconds otherwise, or nothing.

The reference pipeline once ran 47 hours with no output; a run that says nothing is indistinguishable
from a hung one, so non-TTY runs still print periodic lines (to stderr, keeping stdout for --json).
"""

from __future__ import annotations

import sys
import time
from typing import Literal, Protocol, TextIO

ProgressMode = Literal["auto", "rich", "plain", "none"]


class Reporter(Protocol):
    def start(self, total_bytes: int, done_bytes: int) -> None: ...

    def update(self, done_bytes: int, docs: int, tokens: int) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


def _fmt_count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


class QuietReporter:
    def start(self, total_bytes: int, done_bytes: int) -> None:
        pass

    def update(self, done_bytes: int, docs: int, tokens: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainReporter:
    def __init__(self, stream: TextIO | None = None, every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._last = 0.0
        self._t0 = time.monotonic()
        self._total = 1
        self._start_bytes = 0
        self._state = (0, 0, 0)

    def start(self, total_bytes: int, done_bytes: int) -> None:
        self._total = max(1, total_bytes)
        self._start_bytes = done_bytes
        self._t0 = self._last = time.monotonic()

    def _line(self) -> str:
        done, docs, tokens = self._state
        elapsed = max(1e-9, time.monotonic() - self._t0)
        rate = (done - self._start_bytes) / elapsed
        eta = (self._total - done) / rate if rate > 0 else float("inf")
        eta_s = "?" if eta == float("inf") else time.strftime("%H:%M:%S", time.gmtime(eta))
        return (
            f"encode-corpus: {100 * done / self._total:5.1f}%  {docs:,} docs  {_fmt_count(tokens)} tokens  "
            f"{_fmt_count(tokens / elapsed)} tok/s  ETA {eta_s}"
        )

    def update(self, done_bytes: int, docs: int, tokens: int) -> None:
        self._state = (done_bytes, docs, tokens)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            print(self._line(), file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(f"encode-corpus: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        print(self._line(), file=self.stream, flush=True)


class RichReporter:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]encode-corpus"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[docs]} docs"),
            TextColumn("{task.fields[tokens]} tokens"),
            TextColumn("{task.fields[rate]} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = None
        self._t0 = time.monotonic()

    def start(self, total_bytes: int, done_bytes: int) -> None:
        self.progress.start()
        self._task = self.progress.add_task(
            "encode", total=max(1, total_bytes), completed=done_bytes, docs="0", tokens="0", rate="-"
        )
        self._t0 = time.monotonic()

    def update(self, done_bytes: int, docs: int, tokens: int) -> None:
        if self._task is None:
            return
        rate = tokens / max(1e-9, time.monotonic() - self._t0)
        self.progress.update(
            self._task, completed=done_bytes, docs=f"{docs:,}", tokens=_fmt_count(tokens), rate=_fmt_count(rate)
        )

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]encode-corpus:[/] {text}")

    def close(self) -> None:
        self.progress.stop()


def make_reporter(mode: ProgressMode, stream: TextIO | None = None) -> Reporter:
    stream = stream or sys.stderr
    if mode == "none":
        return QuietReporter()
    if mode == "rich" or (mode == "auto" and stream.isatty()):
        return RichReporter()
    return PlainReporter(stream)
