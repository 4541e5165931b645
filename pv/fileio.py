"""pv's file primitives: read only regular files, replace a file atomically, and hash one.

Every file pv reads comes from a repository it does not trust (contracts, test files, artifacts,
ledger, metrics), so nothing is read that is not a regular file: a FIFO would block ``open`` or
``read`` forever and ``/dev/zero`` would grow a buffer until the machine runs out of memory. The
check is made on the open descriptor (``O_NONBLOCK`` keeps the open of a FIFO from waiting for a
writer), so a file swapped after a ``stat`` cannot slip through.

pv keeps its own (rather than sharing the subjects' helpers) so the checker never imports the
code it checks.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 20

_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


class NotRegularFile(OSError):
    """``path`` exists but is not a regular file (a directory, a FIFO, a device, a socket)."""

    def __init__(self, path: Path | str, kind: str) -> None:
        super().__init__(errno.EISDIR if kind == "directory" else errno.EINVAL,
                         f"is a {kind}, not a regular file", str(path))
        self.kind = kind


class TooLarge(OSError):
    """``path`` is bigger than the caller is willing to read into memory."""

    def __init__(self, path: Path | str, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"is {size} bytes, more than the {limit} bytes pv reads", str(path))


class ReadTimeout(OSError):
    """Reading ``path`` ran past the caller's deadline."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.ETIMEDOUT, "reading it ran past the time limit", str(path))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words: 'regular file', 'directory', 'FIFO (named pipe)', ..."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _open_regular(path: Path) -> int:
    """An O_RDONLY descriptor on ``path``, or ``NotRegularFile`` before anything is read.

    Checked twice: ``stat`` first, so a device is never even opened (opening some has side
    effects), then ``fstat`` on the descriptor, so a file swapped in between cannot slip through.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, file_kind(mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, file_kind(mode))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path, *, limit: int | None = None) -> bytes:
    """The bytes of the regular file at ``path`` (``OSError`` subclasses say why not, by name)."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        if limit is not None:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise TooLarge(path, size, limit)
            data = handle.read(limit + 1)
            if len(data) > limit:  # grew while we read
                raise TooLarge(path, len(data), limit)
            return data
        return handle.read()


def read_text(path: Path, *, limit: int | None = None) -> str:
    """The regular file at ``path`` decoded as UTF-8 (``UnicodeDecodeError`` says at which byte it is not)."""
    return read_bytes(path, limit=limit).decode("utf-8")


def tail_text(path: Path, size: int) -> str:
    """The last ``size`` bytes of a regular file, decoded leniently (for showing a command's output)."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, end - size))
        return handle.read(size).decode("utf-8", errors="replace")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers see the old or the new file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_of(path: Path, *, deadline: float | None = None) -> str:
    """The sha256 of the regular file at ``path``, read in chunks; ``ReadTimeout`` past ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value: it lets ``pv verify --live --timeout`` bound the
    hashing of artifacts as well as the command.
    """
    digest = hashlib.sha256()
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if deadline is not None and time.monotonic() > deadline:
                raise ReadTimeout(path)
    return digest.hexdigest()


def sha256_file(path: Path) -> str | None:
    """The file's sha256, or None when it cannot be read (missing counts as a change, never a crash)."""
    try:
        return sha256_of(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return None
