"""Run one command in its own session and never leave any of its processes behind.

``pv verify`` runs three kinds of child process: the pytest subprocess, ``CMD:`` bindings and
``LIVE:`` commands. Each may start grandchildren (a shell pipeline, pytest-xdist workers, a
``torchrun`` fleet). Killing only the direct child on a timeout leaves those running, holding
files, ports and GPUs. So every command starts a new session (its own process group, no
controlling terminal), and when it ends, on a timeout or normally, the whole group is killed:
SIGTERM first, SIGKILL after a grace period.

Output goes to files, not pipes: a grandchild that inherits a pipe keeps it open after its parent
exits, and a reader waiting for end-of-file then waits for the grandchild (that is how
``subprocess.run(capture_output=True, timeout=...)`` can hang well past its timeout). Only the
tail of the output is read back, so a command that prints gigabytes costs disk, not memory.

The group is signalled while its leader is still an unreaped zombie (the leader's exit is awaited
with a pidfd, or ``waitid(WNOWAIT)``), so the group id cannot have been reused by an unrelated
process when we signal it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TAIL_CHARS = 4000
GRACE_S = 3.0


@dataclass(frozen=True)
class ProcResult:
    """How a command ended. ``exit_code`` is None when it timed out or could not start."""

    exit_code: int | None
    timed_out: bool
    duration_s: float
    output_tail: str = ""
    start_error: str | None = None  # e.g. "No such file or directory: 'cargo'"
    killed_leftovers: bool = False  # processes of its group outlived it and were killed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def run(command: str | Sequence[str], *, cwd: Path, timeout_s: float | None = None,
        env: Mapping[str, str] | None = None, stdout: IO[bytes] | None = None, stderr: IO[bytes] | None = None,
        tail_chars: int = TAIL_CHARS, grace_s: float = GRACE_S,
        on_tick: Callable[[], None] | None = None, tick_s: float = 0.25) -> ProcResult:
    """Run ``command`` (a shell string, or an argv list run without a shell) from ``cwd``.

    Output goes to ``stdout``/``stderr`` when given (e.g. evidence files), otherwise to one temp
    file; the returned tail is read from whatever was written. stdin is /dev/null. ``on_tick`` is
    called every ``tick_s`` while the command runs (``pv verify`` reads its progress file then).
    """
    with contextlib.ExitStack() as stack:
        if stdout is None:
            stdout = stack.enter_context(tempfile.TemporaryFile(prefix="pv-out-"))
            stderr = stdout if stderr is None else stderr
        elif stderr is None:
            stderr = stdout
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(command, shell=isinstance(command, str), cwd=cwd,
                                    env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
                                    stdout=stdout, stderr=stderr, start_new_session=True)
        except OSError as exc:
            return ProcResult(None, False, round(time.perf_counter() - start, 3),
                              start_error=f"{exc.strerror or exc}: {exc.filename or _program(command)!r}")
        timed_out = False
        try:
            if not _wait_ticking(proc, timeout_s, on_tick, tick_s):
                timed_out = True
                _signal_group(proc.pid, signal.SIGTERM)
                if not _wait_exited(proc, grace_s):
                    _signal_group(proc.pid, signal.SIGKILL)
                    _wait_exited(proc, None)
            # The leader has exited but is not reaped yet: its group id is still ours to signal.
            leftovers = _group_has_live_members(proc.pid)
            if leftovers:
                _signal_group(proc.pid, signal.SIGTERM)
                _reap_group(proc.pid, grace_s)
        except BaseException:  # KeyboardInterrupt included: never orphan the group
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        code = proc.wait()
        duration = round(time.perf_counter() - start, 3)
        tails = [_tail(f, tail_chars) for f in _distinct(stdout, stderr)]
    return ProcResult(None if timed_out else code, timed_out, duration,
                      "\n".join(t for t in tails if t.strip()), killed_leftovers=leftovers)


def _program(command: str | Sequence[str]) -> str:
    if isinstance(command, str):
        return command.split(maxsplit=1)[0] if command.strip() else command
    return command[0] if command else ""


def _distinct(*files: IO[bytes] | None) -> list[IO[bytes]]:
    out: list[IO[bytes]] = []
    for f in files:
        if f is not None and all(f is not o for o in out):
            out.append(f)
    return out


def _wait_ticking(proc: subprocess.Popen, timeout_s: float | None, on_tick: Callable[[], None] | None,
                  tick_s: float) -> bool:
    """``_wait_exited``, calling ``on_tick`` between slices of at most ``tick_s``."""
    if on_tick is None:
        return _wait_exited(proc, timeout_s)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        wait = tick_s if deadline is None else min(tick_s, max(0.0, deadline - time.monotonic()))
        if _wait_exited(proc, wait):
            return True
        on_tick()
        if deadline is not None and time.monotonic() >= deadline:
            return False


def _wait_exited(proc: subprocess.Popen, timeout_s: float | None) -> bool:
    """Wait until ``proc`` has exited WITHOUT reaping it; False when ``timeout_s`` passed first."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            fd = pidfd_open(proc.pid)
        except OSError:
            fd = None
        if fd is not None:
            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                return bool(poller.poll(None if timeout_s is None else min(max(0, int(timeout_s * 1000)), 2**31 - 1)))
            finally:
                os.close(fd)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    delay = 0.001
    while True:
        if _exited_unreaped(proc):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.05)


def _exited_unreaped(proc: subprocess.Popen) -> bool:
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # no way to peek without reaping: reap (the group id may then be reused)
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_has_live_members(pgid: int) -> bool:
    """Whether any non-zombie process other than the (exited) leader is still in the group."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return True  # cannot tell: assume so, and escalate
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit() or int(entry.name) == pgid:
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _reap_group(pgid: int, grace_s: float) -> None:
    """Give the leftovers ``grace_s`` to exit on SIGTERM, then SIGKILL whatever remains."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _group_has_live_members(pgid):
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)


def _tail(handle: IO[bytes], limit: int) -> str:
    """The last ``limit`` characters written to ``handle`` (read back from the file itself)."""
    try:
        handle.flush()
        name = getattr(handle, "name", None)
        # A file the caller opened write-only is read back by name; our temp file by descriptor.
        source = open(name, "rb") if isinstance(name, str) else open(handle.fileno(), "rb", closefd=False)  # noqa: SIM115
        with source as raw:
            size = os.fstat(raw.fileno()).st_size
            raw.seek(max(0, size - limit * 4))  # up to 4 bytes per UTF-8 character
            data = raw.read()
    except (OSError, ValueError):
        return ""
    text = data.decode("utf-8", errors="replace")
    return text[-limit:]
