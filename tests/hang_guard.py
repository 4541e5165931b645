"""Turn a hang into a test failure: the code before a FIFO fix blocks forever in ``open()``.

``open()`` on a FIFO waits in the kernel for a writer. SIGALRM interrupts that wait, and the handler's
exception propagates out of the blocked call (PEP 475 retries only when the handler returns), so a
regression test can fail with a message instead of stalling the suite. POSIX, main thread only.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def fails_instead_of_hanging(seconds: int = 60) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"blocked for {seconds} s: a FIFO or device was opened and waited on")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
