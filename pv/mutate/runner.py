"""A pool of mutant workers (``worker.py``), each a warm interpreter driven over a pipe.

Jobs go to whichever worker is free, from one thread per worker; a worker that dies is replaced
and its job reported as an error (never as a kill). Closing the pool, or pv exiting in any way
(SIGKILL included), ends the workers: each exits when its stdin closes or its parent changes, and
kills the test it was running.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("worker.py")


@dataclass(frozen=True)
class RunResult:
    """One test run in a worker's child: pytest's exit status, or None when it timed out."""

    exit: int | None
    duration_s: float
    tail: str
    trace: dict[str, Any] | None = None

    @property
    def timed_out(self) -> bool:
        return self.exit is None


class WorkerDied(Exception):
    """A worker process ended while a job was in flight (pv reports the job as an error)."""


class _Worker:
    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(WORKER), str(root)], cwd=root, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise WorkerDied(f"the mutant worker exited (status {self.proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WorkerPool:
    """``size`` workers for the repository at ``root``; use as a context manager."""

    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        self.size = max(1, size)
        self._free: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(self.size):
            self._free.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(self.root)
        with self._lock:
            self._all.append(worker)
        return worker

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()

    def preload(self, modules: list[str]) -> None:
        """Import ``modules`` in every worker, so each child starts with them loaded."""
        workers = [self._free.get() for _ in range(self.size)]
        try:
            for worker in workers:
                with contextlib.suppress(WorkerDied):
                    worker.ask({"op": "preload", "modules": modules})
        finally:
            for worker in workers:
                self._free.put(worker)

    def run(self, node_id: str, *, overlay: dict[str, str] | None = None, timeout_s: float | None = None,
            trace: bool = False, omit: list[str] | None = None) -> RunResult:
        """Run the test ``node_id`` once in a fresh child of a free worker."""
        worker = self._free.get()
        request = {"op": "run", "node": node_id, "overlay": overlay or {}, "timeout": timeout_s, "trace": trace,
                   "omit": omit or []}
        try:
            reply = worker.ask(request)
        except WorkerDied:
            worker.close()
            self._free.put(self._spawn())
            raise
        self._free.put(worker)
        return RunResult(reply["exit"], reply["duration"], reply["tail"], reply.get("trace"))

    def map(self, jobs: Iterable[Any], run_one: Callable[[Any], Any], on_done: Callable[[Any, Any], None]) -> None:
        """Call ``run_one(job)`` for every job on ``size`` threads, then ``on_done(job, result)`` as each ends."""
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            futures = {pool.submit(run_one, job): job for job in jobs}
            for future in as_completed(futures):
                on_done(futures[future], future.result())
