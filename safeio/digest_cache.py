"""sha256 of large files, computed once per file version and remembered.

Verifying a 100 GB token corpus costs about a minute of disk and CPU per process at ~1.5 GB/s, on
every run and every rank. The cache remembers a digest under the file's identity and stat:
(device, inode, size, mtime_ns, ctime_ns). Any write through the filesystem changes ctime, and
unlike mtime a user cannot set ctime back (``touch -d`` moves mtime only), so a stale entry needs a
clock change or raw device access, not an edit, an ``rsync`` or a re-encode. A file whose stat
differs is hashed again.

File timestamps tick coarsely (a few ms on Linux), so a file changed in the same tick it was hashed
could keep its key; as git does for its index, a digest is remembered only for a file whose ctime
and mtime are ``settle_s`` older than the hash (a fresh shard is cached on its second use).

The cache is one JSON file, replaced atomically; concurrent processes may each write it, and the
last one wins (entries are independent, a lost one is only recomputed). A cache that cannot be read
is ignored, one that cannot be written is skipped: it is an optimisation, never a source of truth.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from safeio.atomic import atomic_write_text
from safeio.regular import open_regular, sha256_file

CACHE_ENV = "APR_CACHE_DIR"
CACHE_FILE = "sha256-cache.json"
_MAX_ENTRIES = 100_000


def default_cache_dir() -> Path:
    """``$APR_CACHE_DIR``, else ``$XDG_CACHE_HOME/provable-train``, else ``~/.cache/provable-train``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "provable-train"


def _key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


class DigestCache:
    """``digest(path)``: the sha256 of a regular file, from the cache when its stat is unchanged."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, enabled: bool = True,
                 settle_s: float = 2.0) -> None:
        self.path = Path(directory if directory is not None else default_cache_dir()) / CACHE_FILE
        self.enabled = enabled
        self.settle_ns = int(settle_s * 1e9)
        self.hits = 0
        self.misses = 0
        self._entries: dict[str, dict[str, str]] = self._load() if enabled else {}
        self._dirty = False

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            with open_regular(self.path) as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError, RecursionError):
            return {}
        entries = data.get("entries") if isinstance(data, dict) else None
        return {k: v for k, v in entries.items() if isinstance(v, dict) and isinstance(v.get("sha256"), str)} \
            if isinstance(entries, dict) else {}

    def digest(self, path: str | os.PathLike[str]) -> str:
        """sha256 of ``path`` (a regular file; anything else raises :class:`NotRegularFileError`)."""
        with open_regular(path) as fh:  # refuses FIFOs and devices before anything is stat-keyed
            st = os.fstat(fh.fileno())
        key = _key(st)
        hit = self._entries.get(key) if self.enabled else None
        if hit is not None:
            self.hits += 1
            return hit["sha256"]
        self.misses += 1
        started = time.time_ns()
        digest = sha256_file(path)
        settled = max(st.st_ctime_ns, st.st_mtime_ns) < started - self.settle_ns
        if self.enabled and settled and _key(os.stat(path)) == key:  # unchanged while hashing: safe to remember
            self._entries[key] = {"sha256": digest, "path": os.fspath(Path(path).resolve())}
            self._dirty = True
        return digest

    def save(self) -> bool:
        """Write the cache if anything was added; False when it could not be written (it is then skipped)."""
        if not (self.enabled and self._dirty):
            return True
        entries = dict(list(self._entries.items())[-_MAX_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps({"format": "apr-sha256-cache-1", "entries": entries}),
                              durable=False)
        except OSError:
            return False
        self._dirty = False
        return True
