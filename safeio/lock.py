"""One writer per directory: an exclusive, non-blocking OS file lock that names its holder.

The lock is ``flock(2)`` on a small file inside the directory. The kernel releases it when the
holder's last descriptor closes, which includes the process dying by SIGKILL or OOM, so a lock left
by a killed run never blocks the next one: there is no staleness to guess. The file holds the
holder's pid (and host) only so a refused writer can say who holds it.

Two details make this safe:

- the lock file is removed on release *while still locked*, and a new holder checks after locking
  that the file it locked is still the one at the path (same inode), retrying otherwise; without the
  check, a writer that opened the old file just before it was unlinked could lock a ghost while a
  third writer locks the new file;
- a forked child inherits the descriptor (and with it the lock); :func:`close_inherited_locks`
  lets a worker process drop it at start, so only the parent's lifetime decides the lock's.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the lock degrades to "not enforced"
    fcntl = None  # type: ignore[assignment]

_HELD: set[int] = set()  # descriptors holding a lock in this process (see close_inherited_locks)


class LockHeldError(OSError):
    """Another live process holds the directory's lock."""

    def __init__(self, path: str | os.PathLike[str], holder: str) -> None:
        self.path = os.fspath(path)
        self.holder = holder
        self.message = f"{self.path}: locked by another writer ({holder})"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not written its pid yet"


def _try_lock(path: Path) -> int:
    """A descriptor holding an exclusive lock on ``path`` (created if missing), or LockHeldError."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeldError(path, _holder(path)) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # we locked a file its previous holder had just removed; lock the current one


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on the file ``path`` for the ``with`` block; raise :class:`LockHeldError`
    at once (no waiting) if another process holds it. The file records ``pid P on HOST`` while held
    and is removed on release."""
    path = Path(path)
    if fcntl is None:  # pragma: no cover
        yield path
        return
    fd = _try_lock(path)
    _HELD.add(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        yield path
    finally:
        _HELD.discard(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # still locked: nobody can be between open and flock on this inode unnoticed
        os.close(fd)


def close_inherited_locks() -> None:
    """In a forked child: close the lock descriptors inherited from the parent.

    Closing (not unlocking) leaves the parent's lock in place, since the parent still holds its own
    descriptor; it only stops this child from keeping the lock alive after the parent dies.
    """
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()
