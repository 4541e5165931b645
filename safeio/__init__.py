"""safeio: crash-safe writes, digests and regular-file-only reads, shared by the tokenizer and the trainer.

It is the bottom layer: it imports nothing from this project, so any package may use it.

- :func:`atomic_write_bytes` / :func:`atomic_write_text` / :class:`AtomicFile`: a file appears at its
  path only once complete (temp file beside it, fsync, rename, fsync the directory), so a reader or a
  resumed run sees the old whole file or the new whole file, never a torn one;
- :func:`fsync_dir`: make a rename in a directory durable;
- :func:`give_default_permissions`: the mode ``open()`` would give, for files a library wrote privately;
- :func:`open_regular` / :func:`read_regular_bytes` / :func:`read_regular_text`: open only regular
  files, refusing a FIFO, device, socket or directory by name (:class:`NotRegularFileError`) instead of
  blocking on it or reading a device forever;
- :func:`sha256_file`: the hex digest of a regular file;
- :class:`DigestCache`: sha256 of large files remembered under (device, inode, size, mtime, ctime), so
  an unchanged file is hashed once, not on every run;
- :func:`exclusive_lock`: one writer per directory (an OS file lock the kernel releases when the holder
  dies, so a killed run never leaves a stale lock), :class:`LockHeldError` naming the holder.
"""

from safeio.atomic import AtomicFile, atomic_write_bytes, atomic_write_text, fsync_dir, give_default_permissions
from safeio.digest_cache import DigestCache
from safeio.lock import LockHeldError, close_inherited_locks, exclusive_lock
from safeio.regular import NotRegularFileError, open_regular, read_regular_bytes, read_regular_text, sha256_file

__all__ = [
    "AtomicFile",
    "DigestCache",
    "LockHeldError",
    "NotRegularFileError",
    "atomic_write_bytes",
    "atomic_write_text",
    "close_inherited_locks",
    "exclusive_lock",
    "fsync_dir",
    "give_default_permissions",
    "open_regular",
    "read_regular_bytes",
    "read_regular_text",
    "sha256_file",
]
