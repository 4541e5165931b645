"""Crash-safe file replacement: write a temp file beside the target, fsync, rename, fsync the directory.

A reader (or a resumed run) therefore sees either the old complete file or the new complete file,
never a torn one, whenever the process is killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems (and Windows) cannot fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` atomically. ``durable=False`` skips the fsyncs: still safe against a killed
    process (the kernel keeps written pages), not against power loss; for tests and benchmarks."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if durable:
        fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
