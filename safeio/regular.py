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
from collections.abc import Callable
from pathlib import Path
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


class RefusedInputError(Exception):
    """Base of every safeio refusal: the input is unsafe or malformed to read, not a bug in the reader.

    Command-line front ends map it to their bad-input exit code; the message names the file, where in
    it, what is wrong and how to fix it.
    """


class NotRegularFileError(RefusedInputError, OSError):
    """``path`` exists but is not a regular file (so reading it could block, never end, or mean nothing)."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        self.message = (f"{os.fspath(path)}: is {kind}, not a regular file; only regular files are read\n"
                        "  how to fix: point at the file itself (not a pipe, device or directory)")
        super().__init__(self.message)
        self.filename = os.fspath(path)
        self.kind = kind

    def __str__(self) -> str:  # OSError's own would print "[Errno None] None: path" once filename is set
        return self.message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable across worker processes
        return (type(self), (self.filename, self.kind))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), f"a special file (mode {stat.S_IFMT(mode):#o})")


def require_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """``stat`` (symlinks followed) of a regular file, for libraries that open paths themselves
    (safetensors, mmap); anything else raises :class:`NotRegularFileError`, a missing path
    :class:`FileNotFoundError`."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFileError(path, _kind(st.st_mode))
    return st


def regular_files(directory: str | os.PathLike[str], match: Callable[[str], bool], *,
                  report_dirs: bool = True) -> tuple[list[Path], list[str]]:
    """The entries of ``directory`` whose name satisfies ``match``, sorted by name and split in two: the regular
    files (symlinks followed, wherever they point) and a description of each other one
    (``"x.safetensors: a FIFO (named pipe)"``, ``"y.json: a symbolic link whose target does not exist"``).

    This is the one symlink rule of the tools built on safeio: a path the user names, and every link
    under it, is followed (an HF cache snapshot is a directory of links into ``blobs/``); only regular
    files are read; a directory is listed, never walked, so no link can make a loop; and what is not
    read is returned so the caller refuses it by name or reports it, never drops it silently
    (subdirectories too, unless ``report_dirs`` is false).
    """
    files: list[Path] = []
    other: list[str] = []
    with os.scandir(directory) as it:
        entries = sorted((e for e in it if match(e.name)), key=lambda e: e.name)
    for entry in entries:
        try:
            mode = entry.stat().st_mode  # follows symlinks
        except FileNotFoundError:
            other.append(f"{entry.name}: a symbolic link whose target does not exist")
            continue
        except OSError as exc:  # a link loop (ELOOP), permissions
            other.append(f"{entry.name}: cannot be read ({exc.strerror})")
            continue
        if stat.S_ISREG(mode):
            files.append(Path(entry.path))
        elif report_dirs or not stat.S_ISDIR(mode):
            other.append(f"{entry.name}: {_kind(mode)}")
    return files, other


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

