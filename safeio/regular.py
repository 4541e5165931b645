"""Open and read regular files only.

``open()`` on a FIFO blocks until a writer appears, and reading ``/dev/zero`` or ``/dev/urandom``
never ends; a path handed in by a user or found in a corpus directory can be either. These helpers
open without blocking, check what was opened (fstat on the descriptor, so there is no window for a
swap between check and use), and refuse anything that is not a regular file, naming what it is.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_BINARY", 0)


class NotRegularFileError(OSError):
    """``path`` exists but is not a regular file (so reading it could block, never end, or mean nothing)."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        self.message = f"{os.fspath(path)}: is {kind}, not a regular file; only regular files are read"
        super().__init__(self.message)
        self.filename = os.fspath(path)
        self.kind = kind

    def __str__(self) -> str:  # OSError's own would print "[Errno None] None: path" once filename is set
        return self.message


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), f"a special file (mode {stat.S_IFMT(mode):#o})")


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symlinks followed), else raise
    :class:`NotRegularFileError`; a missing file raises :class:`FileNotFoundError` as ``open`` does."""
    try:
        fd = os.open(path, _OPEN)
    except IsADirectoryError:  # Windows refuses to open a directory at all
        raise NotRegularFileError(path, "a directory") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, _kind(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path: str | os.PathLike[str]) -> bytes:
    with open_regular(path) as fh:
        return fh.read()


def read_regular_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The file decoded strictly (a decoding error is raised, not replaced); newlines are not translated."""
    return read_regular_bytes(path).decode(encoding)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a regular file's bytes, read in blocks (the file need not fit in memory)."""
    with open_regular(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()

