"""Crash-safe file replacement: write a temp file beside the target, fsync, rename, fsync the directory.

The temp file is created with mode 0o666 filtered by the umask (and any default ACL), exactly as a
plain ``open(path, "w")`` would create the target: run directories live on shared filesystems, and
``tempfile.mkstemp``'s 0600 would lock collaborators out of every file written this way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_CREATE = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def give_default_permissions(path: str | os.PathLike[str]) -> None:
    """Set ``path``'s mode to what a plain ``open(path, "w")`` would have created (0o666 minus the umask).

    For files a library writes by itself with a private mode: safetensors' ``save_file`` writes a
    temp file and renames it, leaving 0600 whatever the umask.
    """
    os.chmod(path, 0o666 & ~current_umask())


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make renames and creations in ``directory`` survive power loss (best effort where unsupported)."""
    with contextlib.suppress(OSError):  # some filesystems (and Windows) cannot fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new, exclusively created temp file beside ``path``: ``.NAME.tmp-PID-RANDOM``."""
    while True:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            return os.open(tmp, _CREATE | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


class AtomicFile:
    """A binary file that appears at ``path`` only when :meth:`commit` is called.

    Written to a temp file in the same directory (``tmp`` names it, else a fresh unique name), then
    fsynced and renamed over ``path``. As a context manager it commits on success and removes the temp
    file on an exception. ``durable=False`` skips the fsyncs: still safe against a killed process (the
    kernel keeps written pages), not against power loss; for tests and benchmarks.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True,
                 tmp: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.durable = durable
        if tmp is None:
            fd, self.tmp = _create_temp(self.path)
        else:
            self.tmp = Path(tmp)
            fd = os.open(self.tmp, _CREATE | os.O_TRUNC, 0o666)
        self._fh: BinaryIO = os.fdopen(fd, "wb")

    def write(self, data: bytes | memoryview) -> int:
        return self._fh.write(data)

    def commit(self) -> Path:
        try:
            self._fh.flush()
            if self.durable:
                os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        if self.durable:
            fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Discard what was written; ``path`` keeps its previous content (or stays absent)."""
        self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, _exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see :class:`AtomicFile`)."""
    with AtomicFile(path, durable=durable) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True,
                      encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically; no newline translation, so the bytes are the same everywhere."""
    atomic_write_bytes(path, text.encode(encoding), durable=durable)
