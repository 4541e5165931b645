"""Shard files: crash-safe writing, validation against the manifest, and rebuilding a lost manifest.

A shard is raw little-endian uint32 token ids with no header. It is written as ``shard-NNNNN.bin.tmp``
and renamed only once complete and fsynced, so a file named ``shard-NNNNN.bin`` is always whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from safeio import AtomicFile, sha256_file
from tokenizer.errors import TokenizeError
from tokenizer.manifest import (
    MANIFEST_FILE,
    Counters,
    Manifest,
    RunInfo,
    ShardEntry,
    TokenizerInfo,
    read_manifest,
    shard_name,
    utc_timestamp,
    write_manifest,
)
from tokenizer.version import PRODUCER

TOKEN_DTYPE = np.dtype("<u4")
SHARD_RE = re.compile(r"^shard-(\d{5,})\.bin$")


class Pipeline:
    """File work (shard writes, shard commits with their fsyncs, manifest writes) on one helper thread, in
    the order it is submitted; file I/O releases the GIL, so the main thread assembles the next chunk
    meanwhile instead of waiting on the disk. At most ``depth`` jobs are queued (bounded memory); an
    error in a job (a full disk) is raised in the main thread at the next submit or at :meth:`drain`.

    Order is what keeps a SIGKILL harmless: a shard is renamed only after its last write, and the
    manifest listing it is written only after that rename, exactly as when done inline.
    """

    def __init__(self, depth: int = 32) -> None:
        self._ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apr-shard-io")
        self._queue: deque[Future[object]] = deque()
        self._depth = depth

    def submit(self, fn: Callable[..., object], *args: object, **kw: object) -> None:
        self._queue.append(self._ex.submit(fn, *args, **kw))
        while self._queue and (self._queue[0].done() or len(self._queue) > self._depth):
            self._queue.popleft().result()

    def drain(self) -> None:
        while self._queue:
            self._queue.popleft().result()

    def close(self) -> None:
        """Finish what was submitted (even when unwinding from an error), then stop the thread."""
        try:
            self.drain()
        finally:
            self._queue.clear()
            self._ex.shutdown(wait=True)


class ShardWriter:
    """One shard, written to ``shard-NNNNN.bin.tmp`` and hashed as it is written (the hash in the caller's
    thread; with a :class:`Pipeline`, the writes and the commit on its thread)."""

    def __init__(self, directory: Path, index: int, *, durable: bool = True, pipeline: Pipeline | None = None
                 ) -> None:
        self.name = shard_name(index)
        self._file = AtomicFile(directory / self.name, durable=durable, tmp=directory / f"{self.name}.tmp")
        self._sha = hashlib.sha256()
        self._pipeline = pipeline
        self.tokens = 0

    def _do(self, fn: Callable[..., object], *args: object) -> None:
        if self._pipeline is None:
            fn(*args)
        else:
            self._pipeline.submit(fn, *args)

    def write(self, ids: np.ndarray) -> None:
        data = np.ascontiguousarray(ids, dtype=TOKEN_DTYPE)
        view = memoryview(data).cast("B")  # keeps ``data`` alive until written
        self._sha.update(view)
        self.tokens += int(data.size)
        self._do(self._file.write, view)

    def commit(self) -> ShardEntry:
        """The shard's entry; the file is complete under its final name once the pipeline gets there."""
        self._do(self._file.commit)
        return ShardEntry(name=self.name, tokens=self.tokens, bytes=self.tokens * 4, sha256=self._sha.hexdigest())

    def abort(self) -> None:
        self._do(self._file.abort)


def shard_files(directory: Path) -> dict[int, Path]:
    """Every ``shard-NNNNN.bin`` in ``directory`` by index; one that is not a regular file (a directory,
    a FIFO, a link to a device) is an error naming it, never read, hashed or deleted."""
    out: dict[int, Path] = {}
    for p in directory.iterdir():
        m = SHARD_RE.match(p.name)
        if m:
            if not p.is_file():
                kind = "a directory" if p.is_dir() else ("a broken link" if not p.exists() else "not a regular file")
                raise TokenizeError(f"{p.name} is {kind}, where a shard file is expected", where=str(directory),
                                    fix=f"move {p.name} out of the shard directory")
            out[int(m.group(1))] = p
    return out


def read_tokens(directory: Path | str, manifest: Manifest | None = None) -> np.ndarray:
    """All token ids of the listed shards, concatenated in order (for tests and small corpora)."""
    directory = Path(directory)
    manifest = manifest or read_manifest(directory)
    arrays = [np.fromfile(directory / s.name, dtype=TOKEN_DTYPE) for s in manifest.shards]
    return np.concatenate(arrays) if arrays else np.zeros(0, TOKEN_DTYPE)


@dataclass
class VerifyReport:
    manifest: Manifest
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Checks that were asked for but could not be made, with the reason; never reported as passed.
    unchecked: list[str] = field(default_factory=list)
    #: The id bound the shards were checked against (None when ids were not checked).
    id_bound: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _id_bound(manifest: Manifest, tokenizer: TokenizerInfo | None, report: VerifyReport) -> int | None:
    """The id space (max id + 1) to check against: the manifest's record, else the given tokenizer's."""
    recorded = manifest.tokenizer
    if recorded is not None and tokenizer is not None and recorded.sha256 != tokenizer.sha256:
        report.problems.append(
            f"the given tokenizer (sha256 {tokenizer.sha256[:12]}…) is not the one the manifest records "
            f"(sha256 {recorded.sha256[:12]}…)")
    info = recorded or tokenizer
    if info is None:
        report.unchecked.append(
            "id bound: the manifest records no tokenizer (a repair-manifest output?) and no --tokenizer was given")
        return None
    return info.max_token_id + 1


def verify_output(directory: Path | str, *, check_sha: bool = False, check_ids: bool = False,
                  tokenizer: TokenizerInfo | None = None) -> VerifyReport:
    """Check every shard against the manifest: names, sizes (% 4), token sums, and optionally sha/ids.

    Ids are checked against the id space the manifest records, else ``tokenizer``'s; when neither is
    known the check is listed in ``unchecked`` rather than passed.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    report = VerifyReport(manifest=manifest)
    bound = _id_bound(manifest, tokenizer, report) if check_ids else None
    report.id_bound = bound
    total = 0
    for i, entry in enumerate(manifest.shards):
        path = directory / entry.name
        if entry.name != shard_name(i):
            report.problems.append(f"shard #{i} is named {entry.name}, expected {shard_name(i)}")
        if not path.is_file():
            report.problems.append(f"{entry.name}: listed in the manifest but missing")
            continue
        size = path.stat().st_size
        if size % 4:
            report.problems.append(f"{entry.name}: size {size} is not a multiple of 4 (torn or foreign file)")
        if size != entry.bytes or entry.bytes != 4 * entry.tokens:
            report.problems.append(
                f"{entry.name}: {size} bytes on disk, manifest says {entry.bytes} bytes / {entry.tokens} tokens"
            )
        total += size // 4
        if check_sha and sha256_file(path) != entry.sha256:
            report.problems.append(f"{entry.name}: sha256 differs from the manifest")
        if check_ids and bound is not None and size >= 4:
            ids = np.fromfile(path, dtype=TOKEN_DTYPE)
            top = int(ids.max())
            if top >= bound:
                first = int(np.argmax(ids >= bound))
                report.problems.append(
                    f"{entry.name}: token #{first} has id {int(ids[first])} >= vocab {bound} (max {top})"
                )
    if total != manifest.totals.tokens:
        report.problems.append(f"shards hold {total} tokens but the manifest total is {manifest.totals.tokens}")
    extra = sorted(i for i in shard_files(directory) if i >= len(manifest.shards))
    leftovers = sorted(p.name for p in directory.glob("*.tmp"))
    if extra:
        msg = f"{len(extra)} shard file(s) not in the manifest, from {shard_name(extra[0])}"
        if manifest.complete:
            report.problems.append(msg)
        else:
            report.notes.append(msg + " (an interrupted run; --resume rewrites them)")
    if leftovers:
        report.notes.append(f"temporary files from an interrupted run: {', '.join(leftovers[:3])}")
    if not manifest.complete:
        report.notes.append("the run is incomplete; finish it with `encode-corpus … --resume`")
    v = manifest.verification
    if v is not None and not v.passed:
        report.problems.append(
            f"verification failed: unknown-token rate {v.unk_rate:.3%} exceeds {v.max_unk_rate:.3%}; do not train on it"
        )
    return report


def _previous_tokenizer(directory: Path) -> TokenizerInfo | None:
    """The tokenizer block of the manifest being replaced, if it is still readable."""
    if not (directory / MANIFEST_FILE).is_file():
        return None
    try:
        return read_manifest(directory).tokenizer
    except TokenizeError:
        return None


def repair_manifest(directory: Path | str, *, vocab_size: int | None = None,
                    tokenizer: TokenizerInfo | None = None) -> tuple[Manifest, list[str]]:
    """Rebuild manifest.json from the shard files alone (the old one, if any, is kept as a backup).

    Only the contiguous run shard-00000, shard-00001, … of whole-token files is listed; the first gap
    or a file whose size is not a multiple of 4 ends the list and is reported. The result is marked
    ``repaired`` (it has no corpus position, so it cannot be resumed).

    The tokenizer bound is recorded when it is known: from ``tokenizer``, else from the old manifest's
    tokenizer block. Every listed shard is then checked against it (and against ``vocab_size``), so
    the recorded bound is true of the shards and ``inspect --check-ids`` can check them later.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TokenizeError("not a directory", where=str(directory))
    files = shard_files(directory)
    problems: list[str] = []
    shards: list[ShardEntry] = []
    if tokenizer is None:
        tokenizer = _previous_tokenizer(directory)
        if tokenizer is not None:
            problems.append("tokenizer bound carried over from the previous manifest")
    if tokenizer is None:
        problems.append("no tokenizer bound recorded (pass --tokenizer DIR to record one); "
                        "`inspect --check-ids` will need --tokenizer")
    bounds = [b for b in (vocab_size, tokenizer.max_token_id + 1 if tokenizer else None) if b is not None]
    bound = min(bounds) if bounds else None
    for i in range(len(files) + 1):
        path = files.get(i)
        if path is None:
            later = sorted(j for j in files if j > i)
            if later:
                problems.append(f"{shard_name(i)} is missing; {len(later)} later shard(s) not listed")
            break
        size = path.stat().st_size
        if size % 4:
            problems.append(f"{path.name}: size {size} is not a multiple of 4; it and later shards not listed")
            break
        if bound is not None and size:
            top = int(np.fromfile(path, dtype=TOKEN_DTYPE).max())
            if top >= bound:
                problems.append(f"{path.name}: max id {top} >= the id bound {bound}; it and later shards not listed")
                break
        shards.append(ShardEntry(name=path.name, tokens=size // 4, bytes=size, sha256=sha256_file(path)))
    old = directory / MANIFEST_FILE
    if old.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = directory / f"{MANIFEST_FILE}.bak-{stamp}"
        os.replace(old, backup)
        problems.append(f"previous manifest kept as {backup.name}")
    now = utc_timestamp()
    manifest = Manifest(
        producer=f"{PRODUCER} (repair-manifest)",
        repaired=True,
        tokenizer=tokenizer,
        totals=Counters(tokens=sum(s.tokens for s in shards)),
        shards=shards,
        run=RunInfo(started_at=now, updated_at=now, notes=["rebuilt from shard files; corpus position unknown"]),
    )
    write_manifest(directory, manifest)
    return manifest, problems
