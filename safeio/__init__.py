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
- :func:`require_regular`: the same refusal for a path a library opens itself (safetensors, mmap);
- :func:`regular_files`: a directory's matching entries split into regular files and the rest, described
  (the one symlink rule: follow links, read only regular files, never walk, report what is not read);
- :func:`sha256_file`: the hex digest of a regular file;
- :class:`DigestCache`: sha256 of large files remembered under (device, inode, size, mtime, ctime), so
  an unchanged file is hashed once, not on every run;
- :func:`exclusive_lock`: one writer per directory (an OS file lock the kernel releases when the holder
  dies, so a killed run never leaves a stale lock), :class:`LockHeldError` naming the holder;
- :func:`read_json` / :func:`loads_json`: JSON from untrusted files within limits (size, nesting depth,
  integer digits, finite numbers), every refusal located (:class:`JSONInputError`).

Every refusal derives from :class:`RefusedInputError`, which a command-line front end maps to its
bad-input exit code.
"""

from safeio.atomic import AtomicFile, atomic_write_bytes, atomic_write_text, fsync_dir, give_default_permissions
from safeio.digest_cache import DigestCache
from safeio.jsonread import DEFAULT_LIMITS, JSONInputError, JSONLimits, loads_json, read_json
from safeio.lock import LockHeldError, close_inherited_locks, exclusive_lock
from safeio.regular import (
    NotRegularFileError,
    RefusedInputError,
    open_regular,
    read_regular_bytes,
    read_regular_text,
    regular_files,
    require_regular,
    sha256_file,
)

__all__ = [
    "DEFAULT_LIMITS",
    "AtomicFile",
    "DigestCache",
    "JSONInputError",
    "JSONLimits",
    "LockHeldError",
    "NotRegularFileError",
    "RefusedInputError",
    "atomic_write_bytes",
    "atomic_write_text",
    "close_inherited_locks",
    "exclusive_lock",
    "fsync_dir",
    "give_default_permissions",
    "loads_json",
    "open_regular",
    "read_json",
    "read_regular_bytes",
    "read_regular_text",
    "regular_files",
    "require_regular",
    "sha256_file",
]
